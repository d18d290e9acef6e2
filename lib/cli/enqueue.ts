/**
 * `queuectl enqueue`: a JSON spec, a plain command, a file, or NDJSON on stdin.
 * @module
 */
import { errorReason, UsageError } from "../errors.ts";
import type { Job } from "../job.ts";
import {
  checkDelay,
  type JobSpec,
  newJob,
  parseJobJson,
  parseJobSpec,
  validateJobId,
} from "../job_spec.ts";
import { defaultConfig } from "../config.ts";
import { parseDuration } from "../duration.ts";
import { parseIsoTime } from "../iso_time.ts";
import { decodeUtf8 } from "../utf8.ts";
import { newJobId, nextSeq } from "../ids.ts";
import { configLoad } from "../store/config.ts";
import { jobGetMany, jobInsertMany, jobInsertOne, uniqueHolderGet } from "../store/jobs.ts";
import { queueSettingsGetMany } from "../store/queues.ts";
import { storeExists } from "../store/open.ts";
import type { Paths } from "../paths.ts";
import { type CliContext, withStore } from "./context.ts";
import { parseEnvOption, parseIntOption, parseQueuesOption, parseTimeoutOption } from "./args.ts";
import { toJson } from "../output/text.ts";
import { liveWorkers, startOneWorker, unservedLine, unservedQueues } from "./serving.ts";
import { wakeWorkers } from "../worker/wake_socket.ts";

/** Options of `enqueue`, as commander hands them over. */
export interface EnqueueOptions {
  file?: string;
  id?: string;
  maxRetries?: string;
  priority?: string;
  delay?: string;
  runAt?: string;
  timeout?: string;
  queue?: string;
  after?: string;
  afterAny?: boolean;
  uniqueKey?: string;
  uniqueSkip?: boolean;
  skipExisting?: boolean;
  label?: string;
  retryOn?: string;
  failFastOn?: string;
  cwd?: string;
  env?: string[];
  validate?: boolean;
  json?: boolean;
  /** Start a worker when none serves the new jobs' queues. */
  start?: boolean;
  db?: string;
  /** The words came after `--`: they are a command, never a spec or a file. */
  literal?: boolean;
}

/** Runs `enqueue`; prints the new ids (or the jobs with `--json`). */
export async function enqueueAction(
  ctx: CliContext,
  paths: Paths,
  args: string[],
  options: EnqueueOptions,
): Promise<number> {
  const specs = await readSpecs(ctx, args, options);
  const overrides = parseOverrides(options, ctx.cwd());
  if (options.id && specs.length > 1) {
    throw new UsageError("Option --id applies to one job: not with several jobs");
  }
  const merged = specs.map((s) => applyOverrides(s, overrides));
  const seen = new Set<string>();
  for (const s of merged) {
    if (s.id === undefined) continue;
    if (seen.has(s.id)) throw new UsageError(`Duplicate job id "${s.id}" in the input`);
    seen.add(s.id);
  }
  const now = new Date();
  const cwd = ctx.cwd();
  const build = (config: ReturnType<typeof defaultConfig>) =>
    merged.map((spec) =>
      newJob(spec, { id: newJobId(), now, seq: nextSeq(now.getTime()), cwd, config })
    );
  if (options.validate) {
    const config = await storeExists(paths)
      ? await withStore(paths, (kv) => configLoad(kv))
      : defaultConfig();
    const jobs = build(config);
    ctx.out(toJson(jobs.length === 1 && specs.length === 1 ? jobs[0] : jobs));
    return 0;
  }
  const skipExisting = options.skipExisting ?? false;
  const out = await withStore(paths, async (kv): Promise<Enqueued[]> => {
    const built = await applyQueuePolicies(kv, build(await configLoad(kv)));
    const named = built.filter((j) => seen.has(j.id)).map((j) => j.id);
    const existing = named.length > 0 ? await jobGetMany(kv, named) : [];
    if (existing.length > 0 && !skipExisting) throw duplicateError(existing[0].job);
    const present = new Set(existing.map((e) => e.job.id));
    const jobs = built.filter((j) => !present.has(j.id));
    const inserted = jobs.some((j) => j.after.length > 0 || j.unique_key !== null)
      ? await insertOneByOne(kv, jobs, { skipHeld: options.uniqueSkip ?? false, skipExisting })
      : await insertBatch(kv, jobs, skipExisting);
    // One entry per input job, in input order (`inserted` has one per job of `jobs`).
    let next = 0;
    const done = built.map((job) =>
      present.has(job.id) ? { id: job.id, job: null, exists: true } : inserted[next++]
    );
    await serveOrSay(ctx, kv, paths, done, options);
    return done;
  });
  // Idle workers on this host claim at once instead of at their next poll.
  if (out.some((o) => o.job)) await wakeWorkers(paths.dbPath);
  if (skipExisting) {
    const skipped = out.filter((o) => o.exists).length;
    ctx.err(`Skipped ${skipped} of ${out.length} jobs: their ids already exist\n`);
  }
  const shown = out.filter((o) => !o.exists || options.json);
  if (options.json) {
    const rows = shown.map((o) => o.job ?? { id: o.id, skipped: true });
    ctx.out(toJson(rows.length === 1 && specs.length === 1 ? rows[0] : rows));
  } else if (shown.length > 0) ctx.out(shown.map((o) => o.id).join("\n") + "\n");
  return 0;
}

/**
 * What enqueue did with one job: inserted (`job`), skipped for a held unique key (`id` is
 * the holder's), or skipped because a job with its id already exists (`exists`).
 */
interface Enqueued {
  id: string;
  job: Job | null;
  exists?: boolean;
}

/** Inserts jobs in batches, one entry per job in order; ids taken at commit time are skipped or refused. */
async function insertBatch(kv: Deno.Kv, jobs: Job[], skipExisting: boolean): Promise<Enqueued[]> {
  const result = await jobInsertMany(kv, jobs);
  if (result.duplicates.length > 0 && !skipExisting) {
    const [dup] = await jobGetMany(kv, result.duplicates.slice(0, 1));
    const error = dup ? duplicateError(dup.job) : null;
    if (result.inserted.length === 0 && error) throw error;
    throw new UsageError(
      `${result.duplicates.length} job id(s) already existed (first: "${
        result.duplicates[0]
      }"); the other ${result.inserted.length} jobs were enqueued`,
    );
  }
  const taken = new Set(result.duplicates);
  return jobs.map((job) =>
    taken.has(job.id) ? { id: job.id, job: null, exists: true } : { id: job.id, job }
  );
}

/**
 * No silent wait: says once when no live worker serves the new jobs' queues, or with
 * `--start` starts one.
 */
async function serveOrSay(
  ctx: CliContext,
  kv: Deno.Kv,
  paths: Paths,
  out: Enqueued[],
  options: EnqueueOptions,
): Promise<void> {
  const queues = out.flatMap((o) => o.job ? [o.job.queue] : []);
  if (queues.length === 0) return;
  const unserved = unservedQueues(await liveWorkers(kv), queues);
  if (unserved.length === 0) return;
  if (options.start) await startOneWorker(ctx, kv, paths, options.db);
  else ctx.err(unservedLine(unserved, "it waits"));
}

/** Fills a job's exit-code policy from its queue's settings when the job gives none. */
async function applyQueuePolicies(kv: Deno.Kv, jobs: Job[]): Promise<Job[]> {
  const queues = [...new Set(jobs.map((j) => j.queue))];
  const settings = await queueSettingsGetMany(kv, queues);
  return jobs.map((job) => {
    const q = settings.get(job.queue);
    if (!q) return job;
    return {
      ...job,
      retry_on: job.retry_on ?? q.retry_on,
      fail_fast_on: job.fail_fast_on ?? q.fail_fast_on,
    };
  });
}

/**
 * Inserts jobs with dependencies or unique keys one at a time, in input order, after
 * checking every dependency and unique key first, so that a mistake changes nothing.
 * With `skipHeld`, a job whose unique key is held is not enqueued: the holder's id is printed.
 * With `skipExisting`, a job whose id was taken meanwhile is skipped instead of refused.
 * Returns one entry per job, in order.
 */
async function insertOneByOne(
  kv: Deno.Kv,
  jobs: Job[],
  options: { skipHeld: boolean; skipExisting: boolean },
): Promise<Enqueued[]> {
  const { skipHeld } = options;
  const earlier = new Set<string>();
  const keysInInput = new Map<string, string>();
  const skip = new Map<string, string>();
  for (const job of jobs) {
    const unknown = job.after.filter((id) => !earlier.has(id));
    const found = new Set((await jobGetMany(kv, unknown)).map((e) => e.job.id));
    const missing = unknown.find((id) => !found.has(id));
    if (missing) {
      throw new UsageError(
        `Unknown dependency "${missing}" of job "${job.id}": no job has that id`,
      );
    }
    earlier.add(job.id);
    if (job.unique_key === null) continue;
    const holder = keysInInput.get(job.unique_key) ??
      await uniqueHolderGet(kv, job.unique_key);
    if (holder !== null && holder !== undefined) {
      if (!skipHeld) throw uniqueError(job.unique_key, holder);
      skip.set(job.id, holder);
    } else keysInInput.set(job.unique_key, job.id);
  }
  const out: Enqueued[] = [];
  for (const job of jobs) {
    const held = skip.get(job.id);
    if (held) {
      out.push({ id: held, job: null });
      continue;
    }
    const result = await jobInsertOne(kv, job);
    if (result.kind === "inserted") out.push({ id: job.id, job: result.job });
    else if (result.kind === "duplicate_id") {
      if (!options.skipExisting) throw duplicateError(result.existing);
      out.push({ id: job.id, job: null, exists: true });
    } else if (result.kind === "missing_dependency") {
      throw new UsageError(
        `Unknown dependency "${result.id}" of job "${job.id}": no job has that id`,
      );
    } else if (skipHeld) out.push({ id: result.holder, job: null });
    else throw uniqueError(result.key, result.holder);
  }
  return out;
}

function uniqueError(key: string, holder: string): UsageError {
  return new UsageError(
    `Unique key "${key}" is held by unfinished job "${holder}": wait for it, or use --unique-skip`,
  );
}

function duplicateError(existing: Job): UsageError {
  return new UsageError(
    `Job "${existing.id}" already exists (state ${existing.state}): choose another id`,
  );
}

async function readSpecs(
  ctx: CliContext,
  args: string[],
  options: EnqueueOptions,
): Promise<JobSpec[]> {
  if (options.file) {
    if (args.length > 0) throw new UsageError("Give a job on the command line or --file, not both");
    return parseFileText(await readFile(options.file), options.file);
  }
  if (args.length === 0) {
    throw new UsageError(
      `Missing job: expected a JSON spec, a command, a .json file, or "-" for NDJSON on stdin`,
    );
  }
  if (!options.literal) {
    if (args.length === 1 && args[0] === "-") {
      return parseFileText(decodeUtf8(await ctx.readStdin(), "stdin"), "stdin");
    }
    const first = args[0].trim();
    if (looksLikeSpec(first)) {
      if (args.length > 1) {
        throw new UsageError(
          `Invalid job spec: it arrived as ${args.length} arguments (the shell split it); ` +
            `quote the whole JSON as one argument, or put -- before a command`,
        );
      }
      return first.startsWith("{") ? [parseJobJson(first)] : parseFileText(first, "the argument");
    }
    // A JSON array of jobs; `[ -f x ]` (a shell test) is not JSON and stays a command.
    if (args.length === 1 && first.startsWith("[") && isJsonArray(first)) {
      return parseFileText(first, "the argument");
    }
    // A lone word ending in .json names a job file: a typo in it is an error, not a command.
    if (args.length === 1 && /^\S+\.json$/.test(first)) {
      return parseFileText(await readFile(first), first);
    }
  }
  const command = args.join(" ");
  if (command.trim() === "") throw new UsageError("Invalid command: it is empty");
  return [parseJobSpec({ command })];
}

/**
 * Parses the jobs in a file or on stdin: one JSON object (pretty-printed or not), a JSON
 * array of them, or NDJSON (one object per line). Only text that is not one JSON document
 * is read as NDJSON, so a single job's own mistake is reported as such.
 */
function parseFileText(text: string, name: string): JobSpec[] {
  const trimmed = text.trim();
  if (trimmed === "") {
    throw new UsageError(
      `No jobs in ${name}: expected a JSON job, an array of jobs, or one JSON job per line`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    if (trimmed.includes("\n") && !trimmed.startsWith("[")) return parseNdjson(text, name);
    throw new UsageError(`Invalid JSON in ${name}: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new UsageError(`No jobs in ${name}: the array is empty`);
    return value.map((v, i) => parseJobSpec(v, `job spec ${i + 1} in ${name}`));
  }
  return [parseJobSpec(value, `job spec in ${name}`)];
}

/** Parses newline-delimited JSON jobs; blank lines and lines starting with # are skipped. */
export function parseNdjson(text: string, name: string): JobSpec[] {
  const specs: JobSpec[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    specs.push(parseJobJson(line, `job spec on ${name} line ${i + 1}`));
  }
  if (specs.length === 0) {
    throw new UsageError(`No jobs in ${name}: expected one JSON job per line`);
  }
  return specs;
}

interface Overrides {
  cwd?: string;
  env?: Record<string, string>;
  after?: string[];
  after_any?: boolean;
  unique_key?: string;
  label?: string;
  retry_on?: number[];
  fail_fast_on?: number[];
  id?: string;
  max_retries?: number;
  priority?: number;
  timeout?: number;
  queue?: string;
  delay?: number;
  run_at?: Date;
}

function parseOverrides(options: EnqueueOptions, here: string): Overrides {
  const o: Overrides = {};
  if (options.cwd !== undefined) {
    const dir = options.cwd.startsWith("/") ? options.cwd : `${here}/${options.cwd}`;
    o.cwd = parseJobSpec({ command: "x", cwd: dir }, "options").cwd;
  }
  if (options.env !== undefined) o.env = parseEnvOption(options.env);
  if (options.id !== undefined) o.id = validateJobId(options.id);
  if (options.maxRetries !== undefined) {
    o.max_retries = parseIntOption(options.maxRetries, "--max-retries", { min: 0, max: 1e9 });
  }
  if (options.priority !== undefined) {
    o.priority = parseIntOption(options.priority, "--priority", { min: -1e9, max: 1e9 });
  }
  if (options.timeout !== undefined) {
    o.timeout = parseTimeoutOption(options.timeout);
  }
  if (options.queue !== undefined) {
    const queues = parseQueuesOption(options.queue);
    if (queues.length > 1) throw new UsageError(`Invalid --queue "${options.queue}": one queue`);
    o.queue = queues[0];
  }
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new UsageError("Give --delay or --run-at, not both");
  }
  if (options.delay !== undefined) {
    o.delay = checkDelay(parseDuration(options.delay, "--delay"), "--delay");
  }
  if (options.runAt !== undefined) {
    const parsed = parseIsoTime(options.runAt, { dateOnly: true });
    if (parsed.kind !== "time") {
      const why = parsed.kind === "impossible"
        ? `expected a day that exists (${parsed.why})`
        : "expected an ISO-8601 time";
      throw new UsageError(`Invalid --run-at "${options.runAt}": ${why}`);
    }
    o.run_at = parsed.date;
  }
  // The rest are checked by the job-spec rules, so the messages match the JSON form's.
  const fields: Record<string, unknown> = { command: "x" };
  if (options.after !== undefined) fields.after = options.after.split(",").map((s) => s.trim());
  if (options.afterAny) fields.after_any = true;
  if (options.uniqueKey !== undefined) fields.unique_key = options.uniqueKey;
  if (options.label !== undefined) fields.label = options.label;
  if (options.retryOn !== undefined) fields.retry_on = options.retryOn;
  if (options.failFastOn !== undefined) fields.fail_fast_on = options.failFastOn;
  const checked = parseJobSpec(fields, "options");
  o.after = checked.after;
  o.after_any = checked.after_any;
  o.unique_key = checked.unique_key;
  o.label = checked.label;
  o.retry_on = checked.retry_on;
  o.fail_fast_on = checked.fail_fast_on;
  return o;
}

function applyOverrides(spec: JobSpec, o: Overrides): JobSpec {
  const out: JobSpec = { ...spec };
  // --env adds to the spec's variables (and wins on a name both give).
  if (o.env) out.env = { ...spec.env, ...o.env };
  for (const [k, v] of Object.entries(o)) {
    if (k === "env") continue;
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (o.delay !== undefined) delete out.run_at;
  if (o.run_at !== undefined) delete out.delay;
  return out;
}

async function readFile(path: string): Promise<string> {
  return decodeUtf8(await readBytes(path), `"${path}"`);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot read "${path}": no such file`);
    }
    throw new UsageError(`Cannot read "${path}": ${errorReason(error)}`);
  }
}

/**
 * Whether a first argument is meant as a JSON spec: `{"…`, `[{…` or `{` directly followed by
 * something other than a space (`{bad`). A shell brace group needs a space after `{`
 * (`{ echo a; } > f`), and a shell test `[ -f x ]` has no `{`, so both stay commands.
 */
function looksLikeSpec(arg: string): boolean {
  return /^\{\s*"/.test(arg) || /^\[\s*\{/.test(arg) || /^\{\S/.test(arg);
}

function isJsonArray(text: string): boolean {
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}
