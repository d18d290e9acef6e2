/**
 * Statistics kept in KV: counters changed in the same commit as the state change they
 * count, read back per minute for `stats`, the dashboard and `/metrics`.
 * @module
 */
import type { Attempt, Job } from "../job.ts";
import { minuteOf, percentile, type StatDelta, statDeltas, TIME_BUCKETS_MS } from "../stats.ts";
import {
  STATS_FAIL_PREFIX,
  STATS_LANE_PREFIX,
  STATS_MINUTE_PREFIX,
  STATS_TOTAL_PREFIX,
  statsFailKey,
  statsLaneKey,
  statsMinuteKey,
  statsTotalKey,
} from "./keys.ts";

const HOUR_MS = 3_600_000;
const MAX_COMMAND_KEY = 200;

/**
 * Statistics of the changes of one commit, gathered (instead of one counter mutation per
 * field) to be written as one lane record: the deltas, in the order they came.
 */
export interface StatsGather {
  deltas: StatDelta[];
}

/**
 * Adds the statistics of one state change to an atomic operation: a sum (or max) per
 * field on the minute and total counters, or into `gather` when given. Failed attempts
 * are also counted per command and hour (always as counters: they are rare).
 */
export function addStats(
  op: Deno.AtomicOperation,
  before: Job | null,
  after: Job | null,
  options: { attempt?: Attempt; gather?: StatsGather } = {},
): void {
  const { attempt, gather } = options;
  const deltas = statDeltas(before, after, attempt);
  if (deltas.length === 0) return;
  const at = Date.parse(attempt?.finished_at ?? after?.updated_at ?? new Date().toISOString());
  if (gather) gather.deltas.push(...deltas);
  else addCounters(op, minuteOf(at), deltas);
  if (deltas.some((d) => d.kind === "add" && d.field === "failed") && after) {
    const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
    op.sum(statsFailKey(hour, after.command.slice(0, MAX_COMMAND_KEY)), 1n);
  }
}

/** Adds deltas to the minute's counters and the lifetime ones. */
function addCounters(op: Deno.AtomicOperation, minute: number, deltas: StatDelta[]): void {
  for (const d of deltas) {
    if (d.kind === "add") {
      op.sum(statsMinuteKey(minute, d.field), BigInt(d.by));
      op.sum(statsTotalKey(d.field), BigInt(d.by));
    } else {
      op.max(statsMinuteKey(minute, d.field), BigInt(d.value));
      op.max(statsTotalKey(d.field), BigInt(d.value));
    }
  }
}

/** A lane's statistics record for one minute: field → count (or maximum, for `rt_max`). */
export interface LaneStatsRecord {
  fields: Record<string, number>;
}

/** What a lane knows of its current record: its minute, fields and versionstamp. */
export interface LaneStats {
  workerId: string;
  lane: number;
  minute: number;
  fields: Record<string, number>;
  /** The record's versionstamp as this lane last wrote it (null: not written yet). */
  versionstamp: string | null;
}

/** A lane that has written no statistics yet. */
export function laneStatsNew(workerId: string, lane: number): LaneStats {
  return { workerId, lane, minute: 0, fields: {}, versionstamp: null };
}

/**
 * Adds to `op` the lane's record of the minute at `atMs` with `deltas` applied, checked
 * against the versionstamp the lane last wrote (only this lane writes it; the roll-up
 * deletes it once the minute is long over). Returns the lane's state once `op` lands.
 */
export function addLaneStats(
  op: Deno.AtomicOperation,
  lane: LaneStats,
  deltas: StatDelta[],
  atMs: number,
): LaneStats {
  const minute = minuteOf(atMs);
  const same = minute === lane.minute;
  const fields = applyDeltas(same ? lane.fields : {}, deltas);
  const key = statsLaneKey(minute, lane.workerId, lane.lane);
  op.check({ key, versionstamp: same ? lane.versionstamp : null });
  op.set(key, { fields } satisfies LaneStatsRecord);
  return { ...lane, minute, fields, versionstamp: null };
}

/** After a failed commit: the lane's record as stored (rolled up meanwhile: starts afresh). */
export async function laneStatsRefresh(kv: Deno.Kv, lane: LaneStats): Promise<LaneStats> {
  if (lane.minute === 0) return lane;
  const entry = await kv.get<LaneStatsRecord>(statsLaneKey(lane.minute, lane.workerId, lane.lane));
  return entry.value
    ? { ...lane, fields: entry.value.fields, versionstamp: entry.versionstamp }
    : { ...lane, fields: {}, versionstamp: null };
}

/** Fields with deltas applied (pure: a new object). */
export function applyDeltas(
  fields: Record<string, number>,
  deltas: StatDelta[],
): Record<string, number> {
  const out = { ...fields };
  for (const d of deltas) {
    if (d.kind === "add") out[d.field] = (out[d.field] ?? 0) + d.by;
    else out[d.field] = Math.max(out[d.field] ?? 0, d.value);
  }
  return out;
}

/** A record's fields as deltas (to fold it into the counters). */
function asDeltas(fields: Record<string, number>): StatDelta[] {
  return Object.entries(fields).map(([field, n]) =>
    field === "rt_max" ? { kind: "max", field, value: n } : { kind: "add", field, by: n }
  );
}

/** The most lane records one roll-up pass folds (a worker with 256 lanes writes 256 a minute). */
const ROLL_UP_MAX = 2000;

/**
 * Folds the lanes' records of minutes before `beforeMs` into the minute and total counters,
 * one commit per record (checked as read, so a record written meanwhile is left for the
 * next pass), at most ROLL_UP_MAX per pass. Returns how many were folded.
 */
export async function laneStatsRollUp(kv: Deno.Kv, beforeMs: number): Promise<number> {
  let folded = 0;
  const iter = kv.list<LaneStatsRecord>({
    start: STATS_LANE_PREFIX,
    end: [...STATS_LANE_PREFIX, beforeMs],
  }, { limit: ROLL_UP_MAX, batchSize: 100 });
  for await (const entry of iter) {
    const op = kv.atomic().check(entry).delete(entry.key);
    addCounters(op, entry.key[1] as number, asDeltas(entry.value.fields));
    if ((await op.commit()).ok) folded++;
  }
  return folded;
}

/** The lanes' records not yet folded into the counters: from `fromMs` to before `toMs`. */
async function laneRecords(
  kv: Deno.Kv,
  fromMs: number,
  toMs: number,
): Promise<{ minute: number; fields: Record<string, number> }[]> {
  const out: { minute: number; fields: Record<string, number> }[] = [];
  for await (
    const entry of kv.list<LaneStatsRecord>({
      start: [...STATS_LANE_PREFIX, fromMs],
      end: [...STATS_LANE_PREFIX, toMs],
    })
  ) out.push({ minute: entry.key[1] as number, fields: entry.value.fields });
  return out;
}

/** Finished work in one minute. */
export interface MinuteStats {
  minute: string;
  completed: number;
  failed: number;
  dead: number;
  cancelled: number;
  attempts: number;
}

/** What `stats` reports for a window of time. */
export interface StatsReport {
  since: string;
  until: string;
  minutes: MinuteStats[];
  totals: { completed: number; failed: number; dead: number; cancelled: number; attempts: number };
  /** Completed jobs per minute over the window. */
  completed_per_minute: number;
  /** Share of attempts that succeeded (null when none ran). */
  success_rate: number | null;
  run_time_ms: { p50: number | null; p95: number | null; max: number | null };
  queue_wait_ms: { p50: number | null; p95: number | null };
  top_failing: { command: string; failures: number }[];
}

/** Reads the statistics from `since` to `now` (per-minute resolution). */
export async function statsRead(
  kv: Deno.Kv,
  options: { since: Date; now: Date },
): Promise<StatsReport> {
  const from = minuteOf(options.since.getTime());
  const to = minuteOf(options.now.getTime());
  const perMinute = new Map<number, Record<string, number>>();
  for await (
    const entry of kv.list<Deno.KvU64>({
      start: statsMinuteKey(from, ""),
      end: [...STATS_MINUTE_PREFIX, to + 60_000],
    })
  ) {
    const minute = entry.key[1] as number;
    const field = entry.key[2] as string;
    const bucket = perMinute.get(minute) ?? {};
    bucket[field] = Number(entry.value.value);
    perMinute.set(minute, bucket);
  }
  for (const record of await laneRecords(kv, from, to + 60_000)) {
    perMinute.set(
      record.minute,
      applyDeltas(perMinute.get(record.minute) ?? {}, asDeltas(record.fields)),
    );
  }
  const minutes: MinuteStats[] = [];
  const totals = { completed: 0, failed: 0, dead: 0, cancelled: 0, attempts: 0 };
  const rt = new Array(TIME_BUCKETS_MS.length).fill(0);
  const wait = new Array(TIME_BUCKETS_MS.length).fill(0);
  let rtMax: number | null = null;
  for (let m = from; m <= to; m += 60_000) {
    const b = perMinute.get(m) ?? {};
    const row: MinuteStats = {
      minute: new Date(m).toISOString(),
      completed: b.completed ?? 0,
      failed: b.failed ?? 0,
      dead: b.dead ?? 0,
      cancelled: b.cancelled ?? 0,
      attempts: b.attempts ?? 0,
    };
    minutes.push(row);
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += row[k];
    for (let i = 0; i < TIME_BUCKETS_MS.length; i++) {
      rt[i] += b[`rt:${i}`] ?? 0;
      wait[i] += b[`wait:${i}`] ?? 0;
    }
    if (b.rt_max !== undefined) rtMax = Math.max(rtMax ?? 0, b.rt_max);
  }
  const failing = new Map<string, number>();
  for await (
    const entry of kv.list<Deno.KvU64>({
      start: statsFailKey(Math.floor(from / HOUR_MS) * HOUR_MS, ""),
      end: [...STATS_FAIL_PREFIX, to + HOUR_MS],
    })
  ) {
    const command = entry.key[2] as string;
    failing.set(command, (failing.get(command) ?? 0) + Number(entry.value.value));
  }
  const windowMinutes = Math.max(1, (options.now.getTime() - options.since.getTime()) / 60_000);
  const waitMax = Infinity;
  return {
    since: options.since.toISOString(),
    until: options.now.toISOString(),
    minutes,
    totals,
    completed_per_minute: Math.round((totals.completed / windowMinutes) * 100) / 100,
    success_rate: totals.attempts === 0
      ? null
      : Math.round(((totals.attempts - totals.failed) / totals.attempts) * 1000) / 1000,
    run_time_ms: {
      p50: percentile(rt, 0.5, rtMax ?? Infinity),
      p95: percentile(rt, 0.95, rtMax ?? Infinity),
      max: rtMax,
    },
    queue_wait_ms: { p50: percentile(wait, 0.5, waitMax), p95: percentile(wait, 0.95, waitMax) },
    top_failing: [...failing.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map((
      [command, failures],
    ) => ({ command, failures })),
  };
}

/** Lifetime counters and the run-time histogram, for Prometheus. */
export interface StatsTotals {
  completed: number;
  failed: number;
  dead: number;
  cancelled: number;
  attempts: number;
  /** Cumulative run-time histogram: count of attempts with duration <= le_ms. */
  run_time_buckets: { le_ms: number; count: number }[];
}

/** Reads the lifetime counters. */
export async function statsTotals(kv: Deno.Kv): Promise<StatsTotals> {
  const raw: Record<string, number> = {};
  for await (const entry of kv.list<Deno.KvU64>({ prefix: STATS_TOTAL_PREFIX })) {
    raw[entry.key[1] as string] = Number(entry.value.value);
  }
  for (const record of await laneRecords(kv, 0, Number.MAX_SAFE_INTEGER)) {
    Object.assign(raw, applyDeltas(raw, asDeltas(record.fields)));
  }
  let cumulative = 0;
  const buckets = TIME_BUCKETS_MS.map((le, i) => {
    cumulative += raw[`rt:${i}`] ?? 0;
    return { le_ms: le, count: cumulative };
  });
  return {
    completed: raw.completed ?? 0,
    failed: raw.failed ?? 0,
    dead: raw.dead ?? 0,
    cancelled: raw.cancelled ?? 0,
    attempts: raw.attempts ?? 0,
    run_time_buckets: buckets,
  };
}
