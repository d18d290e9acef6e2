/**
 * Schedules: the record, its validation, and the pure rules of firing (which tick is due,
 * what catch-up and overlap make of it, the job a tick enqueues). No I/O, no clock.
 * @module
 */
import { UsageError } from "./errors.ts";
import { FINAL_STATES, type Job } from "./job.ts";
import { newJob, parseJobSpec } from "./job_spec.ts";
import type { Config } from "./config.ts";
import { cronDueTicks, cronNext, DEFAULT_TZ, parseCron, parseTimeZone } from "./cron.ts";

/** What a tick does while the schedule's last run is unfinished. */
export const OVERLAP_POLICIES = ["skip", "queue", "allow"] as const;
/** `skip`: the tick is skipped (and counted); `queue`: its job runs after the last; `allow`: both run. */
export type OverlapPolicy = typeof OVERLAP_POLICIES[number];

/** The most missed ticks one catch-up fires. */
export const MAX_CATCH_UP = 100;

/** The job fields a schedule gives every job it fires (snake_case, as in a job spec). */
export interface ScheduleJobSpec {
  command: string;
  queue?: string;
  max_retries?: number;
  priority?: number;
  timeout?: number;
  label?: string;
  retry_on?: number[];
  fail_fast_on?: number[];
  /** Variables added to the command's environment. */
  env?: Record<string, string>;
}

/** A schedule as the user defined it (changed by add, pause and resume). */
export interface Schedule {
  name: string;
  /** The cron expression, whitespace normalised. */
  cron: string;
  /** IANA time zone the expression is read in. */
  tz: string;
  job: ScheduleJobSpec;
  /** Directory the fired jobs run in: where the schedule was added. */
  cwd: string;
  overlap: OverlapPolicy;
  /** After downtime, at most this many missed ticks are fired (the latest ones). */
  catch_up: number;
  paused: boolean;
  created_at: string;
  updated_at: string;
}

/** A schedule's firing state, kept under its next-fire key and changed by every firing. */
export interface ScheduleState {
  /** The tick due next; null when paused, or when the expression has no future tick. */
  next_fire_at: string | null;
  /** The latest tick handled (fired or skipped). */
  last_tick_at: string | null;
  /** How the latest tick was handled. */
  last_outcome: "fired" | "skipped" | null;
  /** The latest job fired (by a tick or by `schedule run`). */
  last_job_id: string | null;
  /** Ticks that enqueued a job, and `schedule run`s. */
  fires: number;
  /** Ticks skipped because the last run was unfinished (overlap `skip`). */
  skips: number;
  /** Ticks passed over after downtime, beyond the catch-up limit. */
  misses: number;
}

/** What `schedule add` is given, before validation. */
export interface ScheduleInput {
  name: string;
  cron: string;
  tz?: string;
  job: Record<string, unknown>;
  cwd: string;
  overlap?: string;
  catch_up?: number;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks a schedule name, throwing a UsageError saying what a name may contain. */
export function validateScheduleName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      `Invalid schedule name "${name}": expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return name;
}

/** Checks an overlap policy. */
export function parseOverlap(raw: string): OverlapPolicy {
  if (!(OVERLAP_POLICIES as readonly string[]).includes(raw)) {
    throw new UsageError(
      `Invalid --overlap "${raw}": expected one of ${OVERLAP_POLICIES.join(", ")}`,
    );
  }
  return raw as OverlapPolicy;
}

/** Checks a catch-up count. */
export function checkCatchUp(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CATCH_UP) {
    throw new UsageError(
      `Invalid --catch-up "${n}": expected an integer from 1 to ${MAX_CATCH_UP}`,
    );
  }
  return n;
}

/** Fields of a job spec a schedule may not carry (they name one job, not every run). */
const ONE_JOB_FIELDS = ["id", "run_at", "delay", "unique_key", "after", "after_any"];

/** Validates `schedule add` input into a new schedule and its first state at `now`. */
export function newSchedule(
  input: ScheduleInput,
  now: Date,
): { schedule: Schedule; state: ScheduleState } {
  const name = validateScheduleName(input.name);
  const cron = parseCron(input.cron);
  const tz = input.tz === undefined ? DEFAULT_TZ : parseTimeZone(input.tz);
  for (const field of ONE_JOB_FIELDS) {
    if (input.job[field] !== undefined) {
      throw new UsageError(`Invalid schedule job: "${field}" names one job, not every run`);
    }
  }
  const spec = parseJobSpec(input.job, "schedule job");
  const job: ScheduleJobSpec = { command: spec.command };
  for (const field of FIRED_FIELDS) {
    if (spec[field] !== undefined) (job as unknown as Record<string, unknown>)[field] = spec[field];
  }
  const schedule: Schedule = {
    name,
    cron,
    tz,
    job,
    cwd: input.cwd,
    overlap: input.overlap === undefined ? "skip" : parseOverlap(input.overlap),
    catch_up: checkCatchUp(input.catch_up ?? 1),
    paused: false,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
  };
  return { schedule, state: freshState(schedule, now) };
}

const FIRED_FIELDS = [
  "queue",
  "max_retries",
  "priority",
  "timeout",
  "label",
  "retry_on",
  "fail_fast_on",
  "env",
] as const;

/** A state with no history and no next tick (a schedule's next-fire key is missing). */
export function emptyState(): ScheduleState {
  return {
    next_fire_at: null,
    last_tick_at: null,
    last_outcome: null,
    last_job_id: null,
    fires: 0,
    skips: 0,
    misses: 0,
  };
}

/** A state that fires next at the first tick after `now` (no history). */
export function freshState(schedule: Schedule, now: Date): ScheduleState {
  return { ...emptyState(), next_fire_at: nextTickIso(schedule, now.getTime()) };
}

/** The first tick of a schedule strictly after `afterMs`, as an ISO time; null for none. */
export function nextTickIso(schedule: Schedule, afterMs: number): string | null {
  const next = cronNext(schedule, afterMs);
  return next === null ? null : new Date(next).toISOString();
}

/** A schedule paused or resumed at `now`: resuming fires next at the first tick after `now`. */
export function schedulePaused(
  current: { schedule: Schedule; state: ScheduleState },
  input: { paused: boolean; now: Date },
): { schedule: Schedule; state: ScheduleState } {
  const { paused, now } = input;
  const schedule = { ...current.schedule, paused, updated_at: now.toISOString() };
  const next_fire_at = paused ? null : nextTickIso(schedule, now.getTime());
  return { schedule, state: { ...current.state, next_fire_at } };
}

/** What to do about a schedule at `now`: every outcome of a look at its next-fire key. */
export type FiringDecision =
  | { kind: "paused" }
  | { kind: "not_due"; next_fire_at: string | null }
  | {
    kind: "fire";
    /** The tick fired. */
    tick: Date;
    /** Ticks passed over before it (beyond the catch-up limit). */
    missed: number;
    /** The unfinished last run this tick's job waits for (overlap `queue`), or null. */
    after: string | null;
    state: ScheduleState;
  }
  | {
    kind: "skip";
    tick: Date;
    missed: number;
    /** The unfinished last run that made the tick skip. */
    running: string;
    state: ScheduleState;
  };

/**
 * Decides the next firing of a schedule at `now`, given its latest job (null when it has
 * none or it was purged). The oldest due tick among the latest `catch_up` fires (or is
 * skipped); older ones are missed. One tick per decision: the next due one, if any, is
 * decided after this one's commit.
 */
export function decideFiring(
  current: { schedule: Schedule; state: ScheduleState },
  input: { now: Date; lastJob: Job | null },
): FiringDecision {
  const { schedule, state } = current;
  if (schedule.paused) return { kind: "paused" };
  const nowMs = input.now.getTime();
  if (state.next_fire_at === null || Date.parse(state.next_fire_at) > nowMs) {
    return { kind: "not_due", next_fire_at: state.next_fire_at };
  }
  const due = cronDueTicks(schedule, {
    fromMs: Date.parse(state.next_fire_at),
    nowMs,
    keep: schedule.catch_up,
  });
  const tick = due.latest[0] ?? Date.parse(state.next_fire_at);
  const missed = due.earlier;
  const base: ScheduleState = {
    ...state,
    next_fire_at: nextTickIso(schedule, tick),
    last_tick_at: new Date(tick).toISOString(),
    misses: state.misses + missed,
  };
  const last = input.lastJob;
  const unfinished = last !== null && !FINAL_STATES.includes(last.state) ? last.id : null;
  if (unfinished !== null && schedule.overlap === "skip") {
    return {
      kind: "skip",
      tick: new Date(tick),
      missed,
      running: unfinished,
      state: { ...base, last_outcome: "skipped", skips: state.skips + 1 },
    };
  }
  return {
    kind: "fire",
    tick: new Date(tick),
    missed,
    after: schedule.overlap === "queue" ? unfinished : null,
    state: {
      ...base,
      last_outcome: "fired",
      last_job_id: scheduleJobId(schedule.name, tick),
      fires: state.fires + 1,
    },
  };
}

/** The state after `schedule run` fired job `jobId` by hand (ticks are untouched). */
export function manualFired(state: ScheduleState, jobId: string): ScheduleState {
  return { ...state, last_job_id: jobId, fires: state.fires + 1 };
}

/** `20260102T030000Z`: a time as it appears in the ids of fired jobs. */
function compactTime(ms: number, withMs: boolean): string {
  const iso = new Date(ms).toISOString().replace(/[-:]/g, "");
  return withMs ? iso.replace(".", "") : iso.replace(/\.\d{3}/, "");
}

/** The id of the job a tick fires: the schedule name and the tick, so one tick is one job. */
export function scheduleJobId(name: string, tickMs: number): string {
  return `${name}:${compactTime(tickMs, false)}`;
}

/** The id of a job fired by `schedule run` at `nowMs`. */
export function manualJobId(name: string, nowMs: number): string {
  return `${name}:run-${compactTime(nowMs, true)}`;
}

/** What building a fired job needs besides the schedule. */
export interface FiredJobContext {
  id: string;
  now: Date;
  seq: number;
  config: Config;
  /** The unfinished last run this job waits for (overlap `queue`), or null. */
  after: string | null;
}

/** The job a schedule fires: its job spec, run where the schedule was added, marked with its name. */
export function firedJob(schedule: Schedule, ctx: FiredJobContext): Job {
  const job = newJob({ ...schedule.job }, {
    id: ctx.id,
    now: ctx.now,
    seq: ctx.seq,
    cwd: schedule.cwd,
    config: ctx.config,
  });
  const after = ctx.after === null ? [] : [ctx.after];
  return { ...job, schedule: schedule.name, after, after_any: after.length > 0, waiting_on: after };
}
