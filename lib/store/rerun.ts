/**
 * Running a finished job again (`queuectl retry`): the job back to pending in one commit,
 * then, one commit each, the jobs its bad end had cancelled (a cascade) back to waiting.
 * @module
 */
import { FINAL_STATES, type Job } from "../job.ts";
import { cascadeParent, rerun, restoreDependent } from "../state_machine.ts";
import { addChange, changeLanded, type JobEntry, jobGet, jobGetMany, jobScan } from "./jobs.ts";
import { dependentsKey, depKey, heldUniqueKey, jobKey } from "./keys.ts";

/** How running a job again ended. */
export type RerunResult =
  | { kind: "rerun"; job: Job; restored: string[] }
  | { kind: "not_found" }
  | { kind: "wrong_state"; state: Job["state"] }
  | { kind: "unique_taken"; key: string; holder: string };

/** The most checks one commit makes (a KV Connect store allows 10). */
const MAX_CHECKS = 10;

/**
 * Puts a completed, dead or cancelled job back to pending with its attempts reset (its
 * earlier runs are kept), in one commit checked against the record as read; then brings
 * back to waiting, one commit each, the jobs its bad end had cancelled, and theirs in turn.
 */
export async function jobRerun(kv: Deno.Kv, id: string, now: Date): Promise<RerunResult> {
  for (let tries = 0; tries < 10; tries++) {
    const entry = await jobGet(kv, id);
    if (!entry) return { kind: "not_found" };
    const next = rerun(entry.job, now);
    if (!next.ok) return { kind: "wrong_state", state: entry.job.state };
    const op = kv.atomic();
    const prepared = await addChange(kv, op, entry, next.job);
    if ((await op.commit()).ok) {
      await changeLanded(kv, prepared);
      return { kind: "rerun", job: next.job, restored: await restoreCascade(kv, id, now) };
    }
    // The job changed meanwhile (read again), or its unique key is held by another job.
    const held = heldUniqueKey(next.job);
    const holder = held ? (await kv.get<string>(held)).value : null;
    if (holder !== null && holder !== id) {
      return { kind: "unique_taken", key: next.job.unique_key!, holder };
    }
  }
  throw new Error(`Job "${id}" kept changing; try again`);
}

/**
 * Brings back to waiting every job a cascade from `root` cancelled, and the jobs their
 * cancellation cancelled in turn. Cancelled jobs are read once (the cascade leaves no edge
 * behind: its mark is the job's `last_error`). Returns the ids brought back.
 */
async function restoreCascade(kv: Deno.Kv, root: string, now: Date): Promise<string[]> {
  const cascaded = await jobScan(kv, {
    state: "cancelled",
    limit: Infinity,
    keep: (job) => cascadeParent(job) !== null,
  });
  if (cascaded.length === 0) return [];
  const byParent = new Map<string, string[]>();
  for (const job of cascaded) {
    const parent = cascadeParent(job)!;
    byParent.set(parent, [...(byParent.get(parent) ?? []), job.id]);
  }
  const restored: string[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const child of byParent.get(parent) ?? []) {
      if (await restoreOne(kv, child, parent, now)) {
        restored.push(child);
        queue.push(child);
      }
    }
  }
  return restored;
}

/**
 * One cascade-cancelled job back to waiting for its unfinished dependencies, in one commit
 * checked against it and them, with their dependency edges. Not when another dependency
 * ended badly (it would be cancelled again) or its unfinished dependencies need more
 * checks than a commit may make. False when it was not brought back.
 */
async function restoreOne(kv: Deno.Kv, id: string, parent: string, now: Date): Promise<boolean> {
  for (let tries = 0; tries < 10; tries++) {
    const entry: JobEntry | null = await jobGet(kv, id);
    if (!entry || cascadeParent(entry.job) !== parent) return false;
    const parents = await jobGetMany(kv, entry.job.after);
    const badEnd = parents.some((p) =>
      FINAL_STATES.includes(p.job.state) && p.job.state !== "completed"
    );
    const waiting = parents.filter((p) => !FINAL_STATES.includes(p.job.state));
    if (badEnd || waiting.length + 1 > MAX_CHECKS) return false;
    const next = restoreDependent(entry.job, {
      parent,
      waitingOn: waiting.map((p) => p.job.id),
      now,
    });
    if (!next.ok) return false;
    const op = kv.atomic();
    const prepared = await addChange(kv, op, entry, next.job);
    for (const p of waiting) {
      op.check({ key: jobKey(p.job.id), versionstamp: p.versionstamp });
      op.set(depKey(p.job.id, id), null).sum(dependentsKey(p.job.id), 1n);
    }
    if ((await op.commit()).ok) {
      await changeLanded(kv, prepared);
      return true;
    }
  }
  return false;
}
