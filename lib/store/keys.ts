/**
 * Every Deno KV key queuectl uses, spelled in this one file, and the pure rule that says
 * which index and counter keys a job record implies.
 * @module
 */
import { FINAL_STATES, type Job, type JobState } from "../job.ts";
import { isBlocked } from "../state_machine.ts";

/** The job record. */
export const jobKey = (id: string): Deno.KvKey => ["job", id];
/** Prefix of all job records. */
export const JOB_PREFIX: Deno.KvKey = ["job"];

/** Jobs in one state, oldest first by enqueue order (list in reverse for newest first). */
export const byStateKey = (state: JobState, seq: number, id: string): Deno.KvKey => [
  "by_state",
  state,
  seq,
  id,
];
/** Prefix of the jobs in one state. */
export const byStatePrefix = (state: JobState): Deno.KvKey => ["by_state", state];

/** Every job by enqueue order. */
export const bySeqKey = (seq: number, id: string): Deno.KvKey => ["by_seq", seq, id];
/** Prefix of the enqueue-order index. */
export const BY_SEQ_PREFIX: Deno.KvKey = ["by_seq"];

/** Runnable jobs of a queue whose time has come, best first: priority (high first), then FIFO. */
export const readyKey = (queue: string, priority: number, seq: number, id: string): Deno.KvKey => [
  "ready",
  queue,
  0 - priority,
  seq,
  id,
];
/** Prefix of one queue's ready jobs. */
export const readyPrefix = (queue: string): Deno.KvKey => ["ready", queue];

/** Runnable jobs waiting for their `next_run_at` (delayed jobs and retries), soonest first. */
export const scheduledKey = (runAtMs: number, id: string): Deno.KvKey => [
  "scheduled",
  runAtMs,
  id,
];
/** Prefix of the scheduled index. */
export const SCHEDULED_PREFIX: Deno.KvKey = ["scheduled"];

/** Pending jobs waiting for dependencies, in enqueue order. */
export const blockedKey = (seq: number, id: string): Deno.KvKey => ["blocked", seq, id];

/** A dependency edge: `child` waits for `parent` (value: null). */
export const depKey = (parent: string, child: string): Deno.KvKey => ["dep", parent, child];
/** Prefix of the jobs waiting for `parent`. */
export const depPrefix = (parent: string): Deno.KvKey => ["dep", parent];

/**
 * How many dependency edges were ever added to `parent` (a Deno.KvU64), present while some
 * may still wait. Every insert that adds an edge bumps it. A finishing job without it has
 * no dependents to list; with it, they are released after the finishing commit and the
 * marker is deleted last, checked as read (an edge added meanwhile is released too).
 * Markers of finished jobs are what the sweep for stranded dependents reads.
 */
export const dependentsKey = (parent: string): Deno.KvKey => ["dependents", parent];
/** Prefix of the dependents markers. */
export const DEPENDENTS_PREFIX: Deno.KvKey = ["dependents"];

/** The job holding a unique key while it is unfinished (value: the job id). */
export const uniqueKey = (key: string): Deno.KvKey => ["unique", key];

/** A queue's settings: concurrency cap, paused, exit-code policy; "*" pauses every queue. */
export const queueConfigKey = (name: string): Deno.KvKey => ["queue_config", name];
/** Prefix of the queue settings. */
export const QUEUE_CONFIG_PREFIX: Deno.KvKey = ["queue_config"];

/** Jobs being processed, by the time their lease runs out. */
export const leaseKey = (expiresMs: number, id: string): Deno.KvKey => ["lease", expiresMs, id];
/** Prefix of the lease index. */
export const LEASE_PREFIX: Deno.KvKey = ["lease"];

/** Count of jobs in a state (a Deno.KvU64 changed with `sum`). */
export const countKey = (state: JobState): Deno.KvKey => ["count", state];
/** Count of pending jobs whose time has not come yet. */
export const SCHEDULED_COUNT_KEY: Deno.KvKey = ["count", "scheduled"];
/** Count of dead jobs quarantined for crashing their workers. */
export const CRASHED_COUNT_KEY: Deno.KvKey = ["count", "crashed"];
/** Count of pending jobs waiting for dependencies. */
export const BLOCKED_COUNT_KEY: Deno.KvKey = ["count", "blocked"];
/** Count of one queue's jobs in a state, or `scheduled`, `blocked`, `crashed` (a Deno.KvU64). */
export const queueCountKey = (
  queue: string,
  state: JobState | "scheduled" | "blocked" | "crashed",
): Deno.KvKey => [
  "queue_count",
  queue,
  state,
];

/** A queue name seen at enqueue time (value: null). */
export const queueKey = (name: string): Deno.KvKey => ["queue", name];
/** Prefix of the queue names. */
export const QUEUE_PREFIX: Deno.KvKey = ["queue"];

/** The record of one attempt of a job. */
export const attemptKey = (id: string, attempt: number): Deno.KvKey => ["attempt", id, attempt];
/** Prefix of a job's attempts. */
export const attemptPrefix = (id: string): Deno.KvKey => ["attempt", id];

/**
 * One chunk (≤ 60 KiB) of an attempt's output kept in a KV Connect store, `seq` from 0 in
 * order of writing; `stream` is `out` or `err`.
 */
export const logChunkKey = (
  id: string,
  attempt: number,
  stream: "out" | "err",
  seq: number,
): Deno.KvKey => ["log", id, attempt, stream, seq];
/** Prefix of one attempt's chunks of one stream. */
export const logStreamPrefix = (id: string, attempt: number, stream: "out" | "err"): Deno.KvKey => [
  "log",
  id,
  attempt,
  stream,
];
/** Prefix of every output chunk of a job. */
export const logPrefix = (id: string): Deno.KvKey => ["log", id];

/**
 * A counter that commits making a job ready bump on a KV Connect store; idle workers on
 * every host `watch` it to claim at once (a local file's watch sees only its own process).
 */
export const WAKE_KEY: Deno.KvKey = ["wake"];

/** A worker's record (heartbeat, current job, stop request). */
export const workerKey = (id: string): Deno.KvKey => ["worker", id];
/** Prefix of the worker records. */
export const WORKER_PREFIX: Deno.KvKey = ["worker"];
/** A request for one worker to stop (read by that worker on whatever host it runs). */
export const workerStopKey = (id: string): Deno.KvKey => ["worker_stop", id];
/** A request to cancel a job that is running (read by the worker running it). */
export const cancelKey = (id: string): Deno.KvKey => ["cancel", id];

/** A schedule's definition (cron, zone, job spec, overlap, catch-up, paused). */
export const scheduleKey = (name: string): Deno.KvKey => ["schedule", name];
/** Prefix of the schedule definitions. */
export const SCHEDULE_PREFIX: Deno.KvKey = ["schedule"];
/**
 * A schedule's next-fire key: its firing state (the tick due next, the last job, counts of
 * fires, skips and misses). Every firing is a check-and-set on it, so one tick fires once.
 */
export const scheduleNextKey = (name: string): Deno.KvKey => ["schedule_next", name];
/** Schedules by the time their next tick is due (value: null); absent while paused. */
export const scheduleDueKey = (atMs: number, name: string): Deno.KvKey => [
  "schedule_due",
  atMs,
  name,
];
/** Prefix of the due index of schedules. */
export const SCHEDULE_DUE_PREFIX: Deno.KvKey = ["schedule_due"];

/** The store's id and creation time, recorded when the store is first created. */
export const STORE_ID_KEY: Deno.KvKey = ["store_id"];

/** A stored config value. */
export const configKey = (key: string): Deno.KvKey => ["config", key];
/** Prefix of the stored config. */
export const CONFIG_PREFIX: Deno.KvKey = ["config"];

/** A statistics counter of one minute (`minuteMs` floored to the minute). */
export const statsMinuteKey = (minuteMs: number, field: string): Deno.KvKey => [
  "stats_minute",
  minuteMs,
  field,
];
/** Prefix of the per-minute statistics. */
export const STATS_MINUTE_PREFIX: Deno.KvKey = ["stats_minute"];
/** A statistics counter over the store's whole life (for Prometheus counters). */
export const statsTotalKey = (field: string): Deno.KvKey => ["stats_total", field];
/** Prefix of the lifetime statistics. */
export const STATS_TOTAL_PREFIX: Deno.KvKey = ["stats_total"];
/** Failed attempts of one command within one hour. */
export const statsFailKey = (hourMs: number, command: string): Deno.KvKey => [
  "stats_fail",
  hourMs,
  command,
];
/**
 * One lane's statistics for one minute, a single record written by the commits that finish
 * its jobs (instead of a counter per field); folded into the minute and total counters
 * once the minute is over.
 */
export const statsLaneKey = (minuteMs: number, workerId: string, lane: number): Deno.KvKey => [
  "stats_lane",
  minuteMs,
  workerId,
  lane,
];
/** Prefix of the lanes' per-minute statistics records. */
export const STATS_LANE_PREFIX: Deno.KvKey = ["stats_lane"];
/** Prefix of the failing-command counters. */
export const STATS_FAIL_PREFIX: Deno.KvKey = ["stats_fail"];

/** The index keys a job record implies, as they must exist while the record is stored. */
export function jobIndexKeys(job: Job): Deno.KvKey[] {
  const keys: Deno.KvKey[] = [byStateKey(job.state, job.seq, job.id), bySeqKey(job.seq, job.id)];
  if (isBlocked(job)) keys.push(blockedKey(job.seq, job.id));
  else if (job.state === "pending" || job.state === "failed") {
    if (job.next_run_at === null) keys.push(readyKey(job.queue, job.priority, job.seq, job.id));
    else keys.push(scheduledKey(Date.parse(job.next_run_at), job.id));
  }
  if (job.state === "processing" && job.lease_expires_at) {
    keys.push(leaseKey(Date.parse(job.lease_expires_at), job.id));
  }
  return keys;
}

/** The counter keys a job record adds one to. */
export function jobCounterKeys(job: Job): Deno.KvKey[] {
  const keys = [countKey(job.state), queueCountKey(job.queue, job.state)];
  if (job.state === "dead" && job.dead_reason === "crashed") {
    keys.push(CRASHED_COUNT_KEY, queueCountKey(job.queue, "crashed"));
  }
  if (isBlocked(job)) keys.push(BLOCKED_COUNT_KEY, queueCountKey(job.queue, "blocked"));
  else if (job.state === "pending" && job.next_run_at !== null) {
    keys.push(SCHEDULED_COUNT_KEY, queueCountKey(job.queue, "scheduled"));
  }
  return keys;
}

/** The unique key a job holds: while it is unfinished and was given one. */
export function heldUniqueKey(job: Job | null): Deno.KvKey | null {
  if (!job || !job.unique_key) return null;
  return FINAL_STATES.includes(job.state) ? null : uniqueKey(job.unique_key);
}
