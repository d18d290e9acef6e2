/**
 * `queuectl dlq list|retry|remove` and `queuectl cancel`: the dead letter queue and
 * stopping jobs on purpose.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Job } from "../job.ts";
import type { Paths } from "../paths.ts";
import { validateJobId } from "../job_spec.ts";
import { cancel, type Transition } from "../state_machine.ts";
import { cancelRequestPut } from "../store/requests.ts";
import { jobRemove } from "../store/purge.ts";
import { jobCommitChange, type JobEntry, jobGet, jobList } from "../store/jobs.ts";
import { deadJobsEach, jobRetry } from "../store/dlq.ts";
import { toJson } from "../output/text.ts";
import { type CliContext, readStore, tableNote, withStore } from "./context.ts";
import { wakeWorkers } from "../worker/wake_socket.ts";
import { jobsTable } from "./status.ts";
import { parseIntOption } from "./args.ts";

/** `dlq list`: dead jobs, newest first. */
export async function dlqListAction(
  ctx: CliContext,
  paths: Paths,
  options: { limit?: string; json?: boolean; color?: boolean },
): Promise<number> {
  const limit = parseIntOption(options.limit ?? "50", "--limit", { min: 1, max: 1_000_000 });
  const jobs = await readStore(ctx, paths, (kv) => jobList(kv, { state: "dead", limit }));
  if (options.json) ctx.out(toJson(jobs));
  else if (jobs.length === 0) tableNote(ctx, "The DLQ is empty\n");
  else ctx.out(await jobsTable(ctx, jobs, options.color));
  return 0;
}

/** Picks the target of `dlq retry|remove`: one id or `--all`, not both, not neither. */
function target(verb: string, id: string | undefined, all: boolean | undefined): string | null {
  if (id && all) throw new UsageError(`Give a job id or --all to dlq ${verb}, not both`);
  if (!id && !all) {
    throw new UsageError(`Missing job id: use "dlq ${verb} <id>" or "dlq ${verb} --all"`);
  }
  return id ? validateJobId(id) : null;
}

/** Applies a transition to one job or to every dead job, one commit per job. */
async function applyToDlq(
  kv: Deno.Kv,
  id: string | null,
  change: (entry: JobEntry) => Promise<boolean>,
): Promise<string[]> {
  if (id) {
    const entry = await jobGet(kv, id);
    if (!entry) throw new UsageError(`No job with id "${id}"`);
    if (entry.job.state !== "dead") {
      throw new UsageError(`Job "${id}" is ${entry.job.state}, not dead: it is not in the DLQ`);
    }
    if (!await change(entry)) throw new Error(`Job "${id}" changed meanwhile; try again`);
    return [id];
  }
  return await deadJobsEach(kv, change);
}

/** `dlq retry <id>|--all`: back to pending with attempts reset. */
export async function dlqRetryAction(
  ctx: CliContext,
  paths: Paths,
  id: string | undefined,
  options: { all?: boolean; json?: boolean },
): Promise<number> {
  const one = target("retry", id, options.all);
  const done = await withStore(
    paths,
    (kv) => applyToDlq(kv, one, (entry) => jobRetry(kv, entry, new Date())),
  );
  if (done.length > 0) await wakeWorkers(paths.dbPath);
  report(ctx, done, "Retried", options.json);
  return 0;
}

/** `dlq remove <id>|--all`: deletes dead jobs with their attempts and logs. */
export async function dlqRemoveAction(
  ctx: CliContext,
  paths: Paths,
  id: string | undefined,
  options: { all?: boolean; json?: boolean },
): Promise<number> {
  const one = target("remove", id, options.all);
  const done = await withStore(
    paths,
    (kv) => applyToDlq(kv, one, async (entry) => await jobRemove(kv, paths, entry)),
  );
  report(ctx, done, "Removed", options.json);
  return 0;
}

function report(ctx: CliContext, ids: string[], verb: string, json?: boolean) {
  if (json) ctx.out(toJson(ids));
  else if (ids.length === 0) ctx.out(`${verb} nothing: the DLQ is empty\n`);
  else {ctx.out(
      `${verb} ${ids.length} job(s): ${ids.slice(0, 20).join(", ")}${
        ids.length > 20 ? ", …" : ""
      }\n`,
    );}
}

/** `cancel <id>`: a waiting job becomes cancelled; a running one is killed, not retried. */
export async function cancelAction(
  ctx: CliContext,
  paths: Paths,
  id: string,
  options: { json?: boolean },
): Promise<number> {
  validateJobId(id);
  const result = await withStore(paths, async (kv) => {
    for (let tries = 0; tries < 5; tries++) {
      const entry = await jobGet(kv, id);
      if (!entry) throw new UsageError(`No job with id "${id}"`);
      const job: Job = entry.job;
      if (job.state === "processing") {
        await cancelRequestPut(kv, id, new Date());
        return "requested" as const;
      }
      const next: Transition = cancel(job, new Date());
      if (!next.ok) {
        throw new UsageError(
          `Job "${id}" is ${job.state}: only waiting or running jobs can be cancelled`,
        );
      }
      if (await jobCommitChange(kv, entry, next.job)) return "cancelled" as const;
    }
    throw new Error(`Job "${id}" kept changing; try again`);
  });
  if (options.json) ctx.out(toJson({ id, result }));
  else if (result === "cancelled") ctx.out(`Cancelled ${id}\n`);
  else ctx.out(`Asked the worker running ${id} to stop it; it will end cancelled\n`);
  return 0;
}
