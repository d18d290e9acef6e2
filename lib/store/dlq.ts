/**
 * The dead letter queue: retrying a dead job, and applying a change to every dead job.
 * @module
 */
import { retryFromDlq } from "../state_machine.ts";
import { jobCommitChange, type JobEntry, jobGet, jobListIds } from "./jobs.ts";

/**
 * Puts a dead (or cancelled) job back to pending with its attempts reset, in one commit
 * checked against the entry read. False when the transition is refused or the job changed.
 */
export async function jobRetry(kv: Deno.Kv, entry: JobEntry, now: Date): Promise<boolean> {
  const next = retryFromDlq(entry.job, now);
  return next.ok && !!await jobCommitChange(kv, entry, next.job);
}

/**
 * Applies `change` to every dead job, oldest first, 100 at a time, until a pass changes
 * nothing; returns the ids changed. Each job is re-read just before its change.
 */
export async function deadJobsEach(
  kv: Deno.Kv,
  change: (entry: JobEntry) => Promise<boolean>,
): Promise<string[]> {
  const done: string[] = [];
  while (true) {
    const ids = await jobListIds(kv, { state: "dead", limit: 100, reverse: false });
    let progressed = false;
    for (const id of ids) {
      const entry = await jobGet(kv, id);
      if (entry && entry.job.state === "dead" && await change(entry)) {
        done.push(id);
        progressed = true;
      }
    }
    if (!progressed) return done;
  }
}
