/**
 * Reading schedules for display and for firing: one schedule with its versionstamps, every
 * schedule with its last job's state, counts, the jobs a schedule fired. No cron
 * evaluation here, so `status` and the dashboard do not load the cron library.
 * @module
 */
import type { Job } from "../job.ts";
import { emptyState, type Schedule, type ScheduleState } from "../schedule.ts";
import { jobGetMany } from "./jobs.ts";
import { jobKey, SCHEDULE_PREFIX, scheduleKey, scheduleNextKey } from "./keys.ts";

/** A schedule, its firing state, and the versionstamps both were read at. */
export interface ScheduleEntry {
  schedule: Schedule;
  state: ScheduleState;
  versionstamp: string;
  stateVersionstamp: string | null;
}

/** A schedule with its last job, as `schedule list` and the dashboard show it. */
export interface ScheduleView extends Schedule, ScheduleState {
  /** The state of the latest job fired; null when none (or it was purged). */
  last_job_state: Job["state"] | null;
}

/** Reads one schedule with its state, or null when there is none by that name. */
export async function scheduleGet(kv: Deno.Kv, name: string): Promise<ScheduleEntry | null> {
  const [def, state] = await kv.getMany<[Schedule, ScheduleState]>([
    scheduleKey(name),
    scheduleNextKey(name),
  ]);
  if (def.value === null) return null;
  return {
    schedule: def.value,
    state: state.value ?? emptyState(),
    versionstamp: def.versionstamp!,
    stateVersionstamp: state.versionstamp,
  };
}

/** Every schedule with its state and the state of its latest job, by name. */
export async function scheduleViews(kv: Deno.Kv): Promise<ScheduleView[]> {
  const defs: Schedule[] = [];
  for await (const e of kv.list<Schedule>({ prefix: SCHEDULE_PREFIX })) defs.push(e.value);
  const states: (ScheduleState | null)[] = [];
  for (let i = 0; i < defs.length; i += 10) {
    const batch = await kv.getMany<ScheduleState[]>(
      defs.slice(i, i + 10).map((d) => scheduleNextKey(d.name)),
    );
    states.push(...batch.map((e) => e.value));
  }
  const lastIds = states.map((s) => s?.last_job_id).filter((id): id is string => !!id);
  const jobs = new Map((await jobGetMany(kv, lastIds)).map((e) => [e.job.id, e.job.state]));
  return defs.map((schedule, i) => {
    const state = states[i] ?? emptyState();
    return {
      ...schedule,
      ...state,
      last_job_state: state.last_job_id ? jobs.get(state.last_job_id) ?? null : null,
    };
  });
}

/** Every schedule's name, in order (for Tab completion). */
export async function scheduleNames(kv: Deno.Kv): Promise<string[]> {
  const names: string[] = [];
  for await (const e of kv.list({ prefix: SCHEDULE_PREFIX })) names.push(e.key[1] as string);
  return names;
}

/** How many schedules fire (active) and how many are paused. */
export async function scheduleCounts(kv: Deno.Kv): Promise<{ active: number; paused: number }> {
  const counts = { active: 0, paused: 0 };
  for await (const e of kv.list<Schedule>({ prefix: SCHEDULE_PREFIX })) {
    if (e.value.paused) counts.paused++;
    else counts.active++;
  }
  return counts;
}

/**
 * The latest jobs a schedule fired (up to `limit`), newest first: their ids start with the
 * schedule's name and a colon, so they are read as one range of job keys.
 */
export async function scheduleJobs(
  kv: Deno.Kv,
  name: string,
  options: { limit: number },
): Promise<Job[]> {
  const { limit } = options;
  const jobs: Job[] = [];
  const range = { start: jobKey(`${name}:`), end: jobKey(`${name};`) };
  for await (const e of kv.list<Job>(range, { reverse: true, limit: limit * 2 })) {
    if (e.value.schedule === name) jobs.push(e.value);
  }
  return jobs.sort((a, b) => b.created_at.localeCompare(a.created_at)).slice(0, limit);
}

/** A schedule's lifetime counts, as `stats --json` and `/metrics` report them. */
export function scheduleTallies(v: ScheduleView) {
  return { name: v.name, paused: v.paused, fires: v.fires, skips: v.skips, misses: v.misses };
}
