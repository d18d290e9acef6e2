/**
 * `queuectl wait <id>...`: block until the jobs are finished, for scripts and CI.
 * @module
 */
import { UsageError } from "../errors.ts";
import { FINAL_STATES } from "../job.ts";
import { validateJobId } from "../job_spec.ts";
import type { Paths } from "../paths.ts";
import { jobGetMany } from "../store/jobs.ts";
import { toJson } from "../output/text.ts";
import { type CliContext, withStore } from "./context.ts";
import { warnIfUnserved } from "./serving.ts";
import { formatDurationValue, parseDuration } from "../duration.ts";

const POLL_MS = 100;

/** Waits for every job to reach a final state; 0 if all completed, else 1. */
export async function waitAction(
  ctx: CliContext,
  paths: Paths,
  ids: string[],
  options: { timeout?: string; json?: boolean },
): Promise<number> {
  if (ids.length === 0) {
    throw new UsageError("Missing job id: expected one or more ids to wait for");
  }
  ids.forEach(validateJobId);
  const timeout = options.timeout === undefined
    ? null
    : parseDuration(options.timeout, "--timeout");
  const deadline = timeout === null ? Infinity : Date.now() + timeout * 1000;
  const result = await withStore(paths, async (kv) => {
    let said = false;
    while (true) {
      const entries = await jobGetMany(kv, ids);
      if (entries.length < ids.length) {
        const found = new Set(entries.map((e) => e.job.id));
        throw new UsageError(`No job with id "${ids.find((id) => !found.has(id))}"`);
      }
      if (!said) {
        // No silent wait: say once when nothing will run the jobs still waiting.
        said = true;
        const waiting = entries.filter((e) =>
          e.job.state === "pending" || e.job.state === "failed"
        );
        await warnIfUnserved(ctx, kv, waiting.map((e) => e.job.queue), "the job waits");
      }
      const done = entries.every((e) => FINAL_STATES.includes(e.job.state));
      if (done || Date.now() >= deadline) return { done, jobs: entries.map((e) => e.job) };
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  });
  const states = result.jobs.map((j) => ({ id: j.id, state: j.state }));
  if (options.json) ctx.out(toJson({ finished: result.done, jobs: states }));
  else {
    for (const s of states) ctx.out(`${s.id} ${s.state}\n`);
    if (!result.done) {
      ctx.err(`Timed out after ${formatDurationValue(timeout ?? 0)}: not every job has finished\n`);
    }
  }
  return result.done && result.jobs.every((j) => j.state === "completed") ? 0 : 1;
}
