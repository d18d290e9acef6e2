/**
 * Job counts per state, read from counters kept in the same commits as the state changes.
 * @module
 */
import { JOB_STATES, type JobState } from "../job.ts";
import { countKey, queueCountKey, SCHEDULED_COUNT_KEY } from "./keys.ts";

/** Counts per state, plus `scheduled`: pending jobs whose time has not come. */
export type Counts = Record<JobState, number> & { scheduled: number };

/** Reads every counter (two reads, whatever the number of jobs). */
export async function countsGet(kv: Deno.Kv): Promise<Counts> {
  const keys = [...JOB_STATES.map(countKey), SCHEDULED_COUNT_KEY];
  const entries = [
    ...await kv.getMany<Deno.KvU64[]>(keys.slice(0, 5)),
    ...await kv.getMany<Deno.KvU64[]>(keys.slice(5)),
  ];
  const counts = {} as Counts;
  JOB_STATES.forEach((state, i) => counts[state] = toCount(entries[i].value));
  counts.scheduled = toCount(entries[JOB_STATES.length].value);
  return counts;
}

/** Counts of one queue's jobs (the same shape as the global counts). */
export async function queueCountsGet(kv: Deno.Kv, queue: string): Promise<Counts> {
  const keys = [
    ...JOB_STATES.map((s) => queueCountKey(queue, s)),
    queueCountKey(queue, "scheduled"),
  ];
  const entries = [
    ...await kv.getMany<Deno.KvU64[]>(keys.slice(0, 5)),
    ...await kv.getMany<Deno.KvU64[]>(keys.slice(5)),
  ];
  const counts = {} as Counts;
  JOB_STATES.forEach((state, i) => counts[state] = toCount(entries[i].value));
  counts.scheduled = toCount(entries[JOB_STATES.length].value);
  return counts;
}

/** Jobs that are ready now or waiting out a retry backoff (not delayed by their spec). */
export function outstanding(counts: Counts): number {
  return counts.pending - counts.scheduled + counts.failed;
}

function toCount(value: Deno.KvU64 | null): number {
  if (!value) return 0;
  const n = value.value;
  return n >= 1n << 63n ? 0 : Number(n); // a wrapped (negative) counter reads as 0
}
