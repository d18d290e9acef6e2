/**
 * Writing a person's edit of a waiting job: the record, its indexes and counters, and the
 * name of a queue it moves to, in one commit checked against the record as read.
 * @module
 */
import type { Job } from "../job.ts";
import { jobCommitChange, type JobEntry } from "./jobs.ts";
import { queueKey } from "./keys.ts";

/** Commits an edited job; false when the job changed since `before` was read. */
export async function jobEditCommit(kv: Deno.Kv, before: JobEntry, after: Job): Promise<boolean> {
  const result = await jobCommitChange(kv, before, after, {
    more: (op) => {
      if (after.queue !== before.job.queue) op.set(queueKey(after.queue), null);
    },
  });
  return result !== null;
}
