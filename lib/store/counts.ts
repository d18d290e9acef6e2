/**
 * Job counts per state, read from counters kept in the same commits as the state changes.
 * @module
 */
import { JOB_STATES, type JobState } from "../job.ts";
import {
  BLOCKED_COUNT_KEY,
  countKey,
  CRASHED_COUNT_KEY,
  queueCountKey,
  SCHEDULED_COUNT_KEY,
} from "./keys.ts";

/**
 * Counts per state, plus two sub-counts of pending: `scheduled` (its time has not come) and
 * `blocked` (waiting for dependencies).
 */
export type Counts = Record<JobState, number> & {
  scheduled: number;
  blocked: number;
  /** Dead jobs quarantined for crashing their workers (part of dead). */
  crashed: number;
};

/**
 * Reads every counter in one read (one consistent snapshot, whatever the number of jobs):
 * read apart, a job moving between two states could be counted twice or not at all.
 */
export async function countsGet(kv: Deno.Kv): Promise<Counts> {
  return countsOf(
    await kv.getMany<Deno.KvU64[]>([
      ...JOB_STATES.map(countKey),
      SCHEDULED_COUNT_KEY,
      BLOCKED_COUNT_KEY,
      CRASHED_COUNT_KEY,
    ]),
  );
}

/** Counts of one queue's jobs (the same shape as the global counts). */
export async function queueCountsGet(kv: Deno.Kv, queue: string): Promise<Counts> {
  return countsOf(
    await kv.getMany<Deno.KvU64[]>([
      ...JOB_STATES.map((s) => queueCountKey(queue, s)),
      queueCountKey(queue, "scheduled"),
      queueCountKey(queue, "blocked"),
      queueCountKey(queue, "crashed"),
    ]),
  );
}

/** Counts from the state counters in JOB_STATES order, then `scheduled`, `blocked`. */
function countsOf(entries: Deno.KvEntryMaybe<Deno.KvU64>[]): Counts {
  const counts = {} as Counts;
  JOB_STATES.forEach((state, i) => counts[state] = toCount(entries[i].value));
  counts.scheduled = toCount(entries[JOB_STATES.length].value);
  counts.blocked = toCount(entries[JOB_STATES.length + 1].value);
  counts.crashed = toCount(entries[JOB_STATES.length + 2].value);
  return counts;
}

/**
 * Jobs that are ready now, waiting out a retry backoff, or waiting for dependencies (not
 * those delayed by their spec): what a draining worker waits for.
 */
export function outstanding(counts: Counts): number {
  return counts.pending - counts.scheduled + counts.failed;
}

/**
 * Jobs outstanding (see `outstanding`) in the served queues, or in all queues when `queues`
 * is null: what a draining worker waits for and its progress line counts down.
 */
export async function outstandingIn(kv: Deno.Kv, queues: string[] | null): Promise<number> {
  if (!queues) return outstanding(await countsGet(kv));
  let n = 0;
  for (const queue of queues) n += outstanding(await queueCountsGet(kv, queue));
  return n;
}

/** A counter's value; a missing counter reads 0 and a wrapped (negative) one reads 0. */
export function toCount(value: Deno.KvU64 | null): number {
  if (!value) return 0;
  const n = value.value;
  return n >= 1n << 63n ? 0 : Number(n); // a wrapped (negative) counter reads as 0
}

/** Where a drain stands in the served queues: jobs finished so far, and jobs left to run. */
export interface DrainTally {
  /** Completed, dead and cancelled jobs (by any worker, or cancelled by a cascade). */
  finished: number;
  /** Outstanding jobs (see `outstanding`) and running ones. */
  remaining: number;
}

/**
 * The drain tally of the served queues (all when `queues` is null). A job moves from
 * `remaining` to `finished` whoever finishes it, so their sum stays put while jobs run,
 * retry or are released; it grows only when jobs are enqueued.
 */
export async function drainTallyIn(kv: Deno.Kv, queues: string[] | null): Promise<DrainTally> {
  const all = queues ? await Promise.all(queues.map((q) => queueCountsGet(kv, q))) : [
    await countsGet(kv),
  ];
  let finished = 0, remaining = 0;
  for (const c of all) {
    finished += c.completed + c.dead + c.cancelled;
    remaining += outstanding(c) + c.processing;
  }
  return { finished, remaining };
}
