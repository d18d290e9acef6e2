/**
 * `queuectl enqueue`: a JSON spec, a plain command, a file, or NDJSON on stdin.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Job } from "../job.ts";
import { type JobSpec, newJob, parseJobJson, parseJobSpec, validateJobId } from "../job_spec.ts";
import { defaultConfig } from "../config.ts";
import { parseDuration } from "../duration.ts";
import { newJobId, nextSeq } from "../ids.ts";
import { configLoad } from "../store/config.ts";
import { jobGetMany, jobInsertMany } from "../store/jobs.ts";
import { storeExists } from "../store/open.ts";
import type { Paths } from "../paths.ts";
import { type CliContext, withStore } from "./context.ts";
import { parseIntOption, parseNumberOption, parseQueuesOption } from "./args.ts";
import { toJson } from "../output/text.ts";

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
  validate?: boolean;
  json?: boolean;
}

/** Runs `enqueue`; prints the new ids (or the jobs with `--json`). */
export async function enqueueAction(
  ctx: CliContext,
  paths: Paths,
  args: string[],
  options: EnqueueOptions,
): Promise<number> {
  const specs = await readSpecs(ctx, args, options);
  const overrides = parseOverrides(options);
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
  const jobs = await withStore(paths, async (kv) => {
    const jobs = build(await configLoad(kv));
    const named = jobs.filter((j) => seen.has(j.id)).map((j) => j.id);
    const existing = named.length > 0 ? await jobGetMany(kv, named) : [];
    if (existing.length > 0) throw duplicateError(existing[0].job);
    const result = await jobInsertMany(kv, jobs);
    if (result.duplicates.length > 0) {
      const [dup] = await jobGetMany(kv, result.duplicates.slice(0, 1));
      const error = dup ? duplicateError(dup.job) : null;
      if (result.inserted.length === 0 && error) throw error;
      throw new UsageError(
        `${result.duplicates.length} job id(s) already existed (first: "${
          result.duplicates[0]
        }"); the other ${result.inserted.length} jobs were enqueued`,
      );
    }
    return jobs;
  });
  if (options.json) ctx.out(toJson(jobs.length === 1 && specs.length === 1 ? jobs[0] : jobs));
  else ctx.out(jobs.map((j) => j.id).join("\n") + "\n");
  return 0;
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
  if (args.length === 1 && args[0] === "-") return parseNdjson(await ctx.readStdin(), "stdin");
  if (args.length === 1) {
    const arg = args[0].trim();
    if (arg.startsWith("{")) return [parseJobJson(arg)];
    if (arg.endsWith(".json") && await isFile(arg)) return parseFileText(await readFile(arg), arg);
  }
  const command = args.join(" ");
  if (command.trim() === "") throw new UsageError("Invalid command: it is empty");
  return [parseJobSpec({ command })];
}

function parseFileText(text: string, name: string): JobSpec[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      throw new UsageError(`Invalid JSON in ${name}: ${(error as Error).message}`);
    }
    const list = value as unknown[];
    if (list.length === 0) throw new UsageError(`No jobs in ${name}: the array is empty`);
    return list.map((v, i) => parseJobSpec(v, `${name} item ${i + 1}`));
  }
  try {
    return [parseJobJson(trimmed, name)];
  } catch (error) {
    if (trimmed.includes("\n")) return parseNdjson(text, name);
    throw error;
  }
}

/** Parses newline-delimited JSON jobs; blank lines and lines starting with # are skipped. */
export function parseNdjson(text: string, name: string): JobSpec[] {
  const specs: JobSpec[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    specs.push(parseJobJson(line, `${name} line ${i + 1}`));
  }
  if (specs.length === 0) {
    throw new UsageError(`No jobs in ${name}: expected one JSON job per line`);
  }
  return specs;
}

interface Overrides {
  id?: string;
  max_retries?: number;
  priority?: number;
  timeout?: number;
  queue?: string;
  delay?: number;
  run_at?: Date;
}

function parseOverrides(options: EnqueueOptions): Overrides {
  const o: Overrides = {};
  if (options.id !== undefined) o.id = validateJobId(options.id);
  if (options.maxRetries !== undefined) {
    o.max_retries = parseIntOption(options.maxRetries, "--max-retries", { min: 0, max: 1e9 });
  }
  if (options.priority !== undefined) {
    o.priority = parseIntOption(options.priority, "--priority", { min: -1e9, max: 1e9 });
  }
  if (options.timeout !== undefined) {
    o.timeout = parseNumberOption(options.timeout, "--timeout", 0.001);
  }
  if (options.queue !== undefined) {
    const queues = parseQueuesOption(options.queue);
    if (queues.length > 1) throw new UsageError(`Invalid --queue "${options.queue}": one queue`);
    o.queue = queues[0];
  }
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new UsageError("Give --delay or --run-at, not both");
  }
  if (options.delay !== undefined) o.delay = parseDuration(options.delay, "--delay");
  if (options.runAt !== undefined) {
    const t = Date.parse(options.runAt);
    if (!/^\d{4}-\d{2}-\d{2}/.test(options.runAt) || Number.isNaN(t)) {
      throw new UsageError(`Invalid --run-at "${options.runAt}": expected an ISO-8601 time`);
    }
    o.run_at = new Date(t);
  }
  return o;
}

function applyOverrides(spec: JobSpec, o: Overrides): JobSpec {
  const out: JobSpec = { ...spec };
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (o.delay !== undefined) delete out.run_at;
  if (o.run_at !== undefined) delete out.delay;
  return out;
}

async function readFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot read "${path}": no such file`);
    }
    throw new UsageError(`Cannot read "${path}": ${(error as Error).message}`);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
