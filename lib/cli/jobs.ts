/**
 * `queuectl retry`, `rm` and `edit`: a job's lifecycle by hand. Run a finished job again,
 * remove jobs with their records and logs, change a waiting job.
 * @module
 */
import { UsageError } from "../errors.ts";
import { FINAL_STATES, type Job } from "../job.ts";
import { validateJobId } from "../job_spec.ts";
import { editable, editPatch } from "../job_edit.ts";
import { cancel, edit } from "../state_machine.ts";
import type { Paths } from "../paths.ts";
import { jobCommitChange, type JobEntry, jobGet, jobGetMany } from "../store/jobs.ts";
import { jobRerun } from "../store/rerun.ts";
import { jobEditCommit } from "../store/edit.ts";
import { jobRemove } from "../store/purge.ts";
import { cancelRequestPut } from "../store/requests.ts";
import { parseDuration } from "../duration.ts";
import { toJson } from "../output/text.ts";
import { wakeWorkers } from "../worker/wake_socket.ts";
import { type CliContext, withStore } from "./context.ts";
import { parseIntOption } from "./args.ts";

/** Reads every job named, or throws a UsageError naming the first unknown id. */
async function readAll(kv: Deno.Kv, ids: string[]): Promise<JobEntry[]> {
  if (ids.length === 0) throw new UsageError("Missing job id: expected one or more job ids");
  ids.forEach(validateJobId);
  const entries = await jobGetMany(kv, ids);
  const found = new Set(entries.map((e) => e.job.id));
  const missing = ids.find((id) => !found.has(id));
  if (missing !== undefined) throw new UsageError(`No job with id "${missing}"`);
  return entries;
}

/**
 * `retry <id>…` (alias `restart`): completed, dead or cancelled jobs back to pending with
 * their attempts reset, and the jobs their bad end had cancelled back to waiting. Every job
 * is checked first, so a mistake changes nothing.
 */
export async function retryAction(
  ctx: CliContext,
  paths: Paths,
  ids: string[],
  options: { json?: boolean },
): Promise<number> {
  const done = await withStore(paths, async (kv) => {
    for (const { job } of await readAll(kv, ids)) {
      if (!FINAL_STATES.includes(job.state)) {
        throw new UsageError(
          `Job "${job.id}" is ${job.state}: only completed, dead or cancelled jobs can run again`,
        );
      }
    }
    const out: { id: string; restored: string[] }[] = [];
    for (const id of new Set(ids)) {
      const result = await jobRerun(kv, id, new Date());
      if (result.kind === "unique_taken") {
        throw new UsageError(
          `Job "${id}" cannot run again: its unique key "${result.key}" is held by unfinished job "${result.holder}"`,
        );
      }
      if (result.kind !== "rerun") throw new Error(`Job "${id}" changed meanwhile; try again`);
      out.push({ id, restored: result.restored });
    }
    return out;
  });
  await wakeWorkers(paths.dbPath);
  if (options.json) {
    ctx.out(toJson(done.map((d) => ({ id: d.id, state: "pending", restored: d.restored }))));
    return 0;
  }
  for (const d of done) {
    const back = d.restored.length > 0
      ? `; ${d.restored.length} cancelled dependent(s) waiting again: ${d.restored.join(", ")}`
      : "";
    ctx.out(`${d.id} pending${back}\n`);
  }
  return 0;
}

/** How long `rm --force` waits for a running job to end cancelled. */
const FORCE_WAIT_MS = 30_000;

/**
 * `rm <id>…`: removes finished jobs with their attempts and logs. A waiting or running job
 * is refused unless `--force`, which cancels it first (a running one is killed by its
 * worker, and removed once it has ended).
 */
export async function removeAction(
  ctx: CliContext,
  paths: Paths,
  ids: string[],
  options: { force?: boolean; json?: boolean },
): Promise<number> {
  const removed = await withStore(paths, async (kv) => {
    for (const { job } of await readAll(kv, ids)) {
      if (!FINAL_STATES.includes(job.state) && !options.force) {
        throw new UsageError(
          `Job "${job.id}" is ${job.state}: use --force to cancel it and remove it`,
        );
      }
    }
    const out: string[] = [];
    for (const id of new Set(ids)) {
      const entry = await finished(kv, id);
      if (!await jobRemove(kv, paths, entry)) {
        throw new Error(`Job "${id}" changed meanwhile (or jobs still wait for it); try again`);
      }
      out.push(id);
    }
    return out;
  });
  if (options.json) ctx.out(toJson(removed));
  else ctx.out(removed.map((id) => `Removed ${id}\n`).join(""));
  return 0;
}

/** The job once it is finished: a waiting job is cancelled, a running one asked to stop. */
async function finished(kv: Deno.Kv, id: string): Promise<JobEntry> {
  const deadline = Date.now() + FORCE_WAIT_MS;
  let asked = false;
  while (true) {
    const entry = await jobGet(kv, id);
    if (!entry) throw new Error(`Job "${id}" was removed meanwhile`);
    const job = entry.job;
    if (FINAL_STATES.includes(job.state)) return entry;
    if (job.state === "processing") {
      if (!asked) await cancelRequestPut(kv, id, new Date());
      asked = true;
    } else {
      const next = cancel(job, new Date());
      if (next.ok && await jobCommitChange(kv, entry, next.job)) continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`Job "${id}" is still ${job.state} after 30s; try again`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Options of `edit`. */
export interface EditOptions {
  command?: string;
  priority?: string;
  runAt?: string;
  delay?: string;
  queue?: string;
  label?: string;
  json?: boolean;
}

/** The edits given as options, as fields of the job spec. */
function optionFields(job: Job, options: EditOptions, now: Date): Record<string, unknown> {
  const fields: Record<string, unknown> = { command: options.command ?? job.command };
  if (options.priority !== undefined) {
    fields.priority = parseIntOption(options.priority, "--priority", { min: -1e9, max: 1e9 });
  }
  if (options.queue !== undefined) fields.queue = options.queue;
  if (options.label !== undefined) fields.label = options.label;
  if (options.runAt !== undefined && options.delay !== undefined) {
    throw new UsageError("Give --delay or --run-at, not both");
  }
  if (options.runAt !== undefined) fields.run_at = options.runAt;
  if (options.delay !== undefined) {
    const seconds = parseDuration(options.delay, "--delay");
    fields.run_at = new Date(now.getTime() + seconds * 1000).toISOString();
  }
  return fields;
}

/**
 * `edit <id>`: changes a waiting job's command, priority, run time, queue or label, from
 * options or, with none, in `$VISUAL` / `$EDITOR` as JSON. One commit checked against the
 * job as read: a job claimed meanwhile is not changed.
 */
export async function editAction(
  ctx: CliContext,
  paths: Paths,
  id: string,
  options: EditOptions,
): Promise<number> {
  validateJobId(id);
  const given = ["command", "priority", "runAt", "delay", "queue", "label"]
    .some((k) => options[k as keyof EditOptions] !== undefined);
  const editor = ctx.env("VISUAL") || ctx.env("EDITOR");
  if (!given && !editor) {
    throw new UsageError(
      "Nothing to change: give --command, --priority, --run-at, --delay, --queue or --label, or set $EDITOR",
    );
  }
  const entry = await withStore(paths, (kv) => jobGet(kv, id));
  if (!entry) throw new UsageError(`No job with id "${id}"`);
  const now = new Date();
  checkEditable(entry.job);
  const patch = given
    ? editPatch(entry.job, optionFields(entry.job, options, now), "options")
    : editPatch(entry.job, await editInEditor(editor!, entry.job), "edited job");
  if (Object.keys(patch).length === 0) {
    ctx.err(`No change to ${id}\n`);
    if (options.json) ctx.out(toJson(entry.job));
    return 0;
  }
  const job = await withStore(paths, async (kv) => {
    const current = await jobGet(kv, id);
    if (!current) throw new UsageError(`No job with id "${id}"`);
    if (current.versionstamp !== entry.versionstamp) {
      throw new Error(`Job "${id}" changed while it was being edited (now ${current.job.state})`);
    }
    const next = edit(current.job, patch, now);
    if (!next.ok) throw new UsageError(next.detail);
    if (!await jobEditCommit(kv, current, next.job)) {
      throw new Error(`Job "${id}" changed while it was being edited; try again`);
    }
    return next.job;
  });
  await wakeWorkers(paths.dbPath);
  if (options.json) ctx.out(toJson(job));
  else ctx.out(`Edited ${id}: ${Object.keys(patch).join(", ")}\n`);
  return 0;
}

function checkEditable(job: Job): void {
  if (job.state !== "pending" && job.state !== "failed") {
    throw new UsageError(
      `Job "${job.id}" is ${job.state}: only a waiting (pending or failed) job can be edited`,
    );
  }
}

/** Opens the job's editable fields as JSON in the editor and parses what was saved. */
async function editInEditor(editor: string, job: Job): Promise<Record<string, unknown>> {
  const file = await Deno.makeTempFile({ prefix: `queuectl-edit-`, suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(editable(job), null, 2) + "\n");
    const status = await new Deno.Command("sh", {
      args: ["-c", `${editor} "$1"`, "sh", file],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!status.success) throw new UsageError(`Editor "${editor}" failed: nothing changed`);
    const text = await Deno.readTextFile(file);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`Invalid JSON in the edited job: ${(error as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new UsageError("Invalid edited job: expected a JSON object");
    }
    return value as Record<string, unknown>;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
