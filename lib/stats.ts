/**
 * Statistics arithmetic (pure): histogram buckets for run and wait times, percentiles
 * read back from bucket counts, and what one state change adds to the counters.
 * @module
 */
import type { Attempt, Job } from "./job.ts";

/** Upper bounds (ms) of the time histogram buckets; the last bucket is unbounded. */
export const TIME_BUCKETS_MS = [
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
  10_000,
  30_000,
  60_000,
  300_000,
  900_000,
  3_600_000,
  Infinity,
];

/** The index of the bucket a duration falls in. */
export function bucketOf(ms: number): number {
  const i = TIME_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return i < 0 ? TIME_BUCKETS_MS.length - 1 : i;
}

/**
 * The p-th percentile (0–1) of a histogram, as the upper bound of the bucket that holds it
 * (for the unbounded bucket, `max` is returned). Null when the histogram is empty.
 */
export function percentile(counts: number[], p: number, max: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= rank) return Math.min(TIME_BUCKETS_MS[i], max);
  }
  return max;
}

/** One counter change: add to a counter, or raise a maximum. */
export type StatDelta =
  | { kind: "add"; field: string; by: number }
  | { kind: "max"; field: string; value: number };

/** The minute (ms since the epoch, floored) a time falls in. */
export function minuteOf(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

/**
 * What a state change adds to the statistics: finished attempts (by outcome), run-time
 * histogram and maximum, jobs completed/dead/cancelled, and queue wait when a job is claimed.
 */
export function statDeltas(before: Job | null, after: Job | null, attempt?: Attempt): StatDelta[] {
  const deltas: StatDelta[] = [];
  if (attempt) {
    deltas.push({ kind: "add", field: "attempts", by: 1 });
    const ok = attempt.outcome.kind === "exited" && attempt.outcome.code === 0;
    if (!ok && attempt.outcome.kind !== "stopped" && attempt.outcome.kind !== "cancelled") {
      deltas.push({ kind: "add", field: "failed", by: 1 });
    }
    deltas.push({ kind: "add", field: `rt:${bucketOf(attempt.duration_ms)}`, by: 1 });
    deltas.push({ kind: "max", field: "rt_max", value: Math.round(attempt.duration_ms) });
  }
  if (after && before && before.state !== after.state) {
    if (after.state === "completed") deltas.push({ kind: "add", field: "completed", by: 1 });
    if (after.state === "dead") deltas.push({ kind: "add", field: "dead", by: 1 });
    if (after.state === "cancelled") deltas.push({ kind: "add", field: "cancelled", by: 1 });
    if (after.state === "processing" && after.started_at) {
      // Ready since it last became pending (enqueue or a DLQ retry), or since its run_at.
      const ready = Math.max(
        Date.parse(before.updated_at),
        before.next_run_at ? Date.parse(before.next_run_at) : 0,
      );
      const wait = Math.max(0, Date.parse(after.started_at) - ready);
      if (before.attempts === 0) {
        deltas.push({ kind: "add", field: `wait:${bucketOf(wait)}`, by: 1 });
      }
    }
  }
  return deltas;
}
