/**
 * Removing finished jobs: one job with its indexes, counters and attempts in one commit,
 * then its log files; and purging finished jobs older than a cutoff in small batches.
 * @module
 */
import { FINAL_STATES, type JobState } from "../job.ts";
import { jobLogDir, type Paths } from "../paths.ts";
import {
  jobCommitChange,
  type JobEntry,
  jobGetMany,
  jobListIds,
  releaseDependents,
} from "./jobs.ts";
import { attemptPrefix, dependentsKey, logPrefix } from "./keys.ts";

/** Attempt records deleted in one commit (leaves room for the job's own keys). */
const ATTEMPTS_IN_COMMIT = 500;

/**
 * Deletes a job, its indexes, counters, attempts and output kept in the store in one
 * commit, then its log files. A finished job's dependents are released first, should any
 * still wait (its finishing commit and the releases after it normally leave none).
 */
export async function jobRemove(kv: Deno.Kv, paths: Paths, entry: JobEntry): Promise<boolean> {
  if (FINAL_STATES.includes(entry.job.state)) await releaseDependents(kv, entry.job);
  const attemptKeys: Deno.KvKey[] = [];
  for await (const a of kv.list({ prefix: attemptPrefix(entry.job.id) })) attemptKeys.push(a.key);
  for await (const c of kv.list({ prefix: logPrefix(entry.job.id) })) attemptKeys.push(c.key);
  // A commit holds at most 1000 mutations: the oldest attempts of a job retried very many
  // times go first, in commits of their own (history only; the job stays whole until its
  // own commit, which removes the last ATTEMPTS_IN_COMMIT).
  while (attemptKeys.length > ATTEMPTS_IN_COMMIT) {
    const op = kv.atomic();
    for (const key of attemptKeys.splice(0, ATTEMPTS_IN_COMMIT)) op.delete(key);
    await op.commit();
  }
  const ok = await jobCommitChange(kv, entry, null, {
    more: (op) => {
      for (const key of attemptKeys) op.delete(key);
      // Not while dependents may still wait for it: they could never be released after.
      op.check({ key: dependentsKey(entry.job.id), versionstamp: null });
    },
  });
  if (!ok) return false;
  await Deno.remove(jobLogDir(paths.logDir, entry.job.id), { recursive: true }).catch(() => {});
  return true;
}

/**
 * Removes jobs in `states` that finished before `olderThan`, oldest first by enqueue
 * order, reading at most `scan` index entries per state. Returns the removed ids.
 */
export async function purgeFinished(
  kv: Deno.Kv,
  paths: Paths,
  options: { states: JobState[]; olderThan: Date; scan?: number },
): Promise<string[]> {
  const removed: string[] = [];
  const cutoff = options.olderThan.getTime();
  for (const state of options.states) {
    const ids = await jobListIds(kv, { state, limit: options.scan, reverse: false });
    for (let i = 0; i < ids.length; i += 50) {
      for (const entry of await jobGetMany(kv, ids.slice(i, i + 50))) {
        const finished = Date.parse(entry.job.finished_at ?? entry.job.updated_at);
        if (entry.job.state === state && finished < cutoff && await jobRemove(kv, paths, entry)) {
          removed.push(entry.job.id);
        }
      }
    }
  }
  return removed;
}
