/**
 * Schedules in the store: definitions, their next-fire keys and the due index; firing due
 * ticks (`fireDueSchedules`, called by every worker's upkeep) as one commit per tick,
 * checked-and-set on the next-fire key so that of any number of workers one fires it.
 * @module
 */
import type { Config } from "../config.ts";
import { FINAL_STATES, type Job } from "../job.ts";
import {
  decideFiring,
  firedJob,
  manualFired,
  manualJobId,
  type Schedule,
  scheduleJobId,
  schedulePaused,
  type ScheduleState,
} from "../schedule.ts";
import { nextSeq } from "../ids.ts";
import { configLoad } from "./config.ts";
import { addJobChange, type JobEntry, jobGet } from "./jobs.ts";
import {
  dependentsKey,
  depKey,
  jobKey,
  queueKey,
  SCHEDULE_DUE_PREFIX,
  scheduleDueKey,
  scheduleKey,
  scheduleNextKey,
} from "./keys.ts";
import { queueSettingsGetMany } from "./queues.ts";
import { type ScheduleEntry, scheduleGet } from "./schedule_views.ts";

/** The due-index key a schedule in this state has, or null (paused, or no future tick). */
function dueKeyOf(schedule: Schedule, state: ScheduleState): Deno.KvKey | null {
  if (schedule.paused || state.next_fire_at === null) return null;
  return scheduleDueKey(Date.parse(state.next_fire_at), schedule.name);
}

/** Adds to `op` the move of a schedule's due-index key from `before` to `after`. */
function addDueMove(
  op: Deno.AtomicOperation,
  before: { schedule: Schedule; state: ScheduleState } | null,
  after: { schedule: Schedule; state: ScheduleState } | null,
): void {
  const old = before ? dueKeyOf(before.schedule, before.state) : null;
  const next = after ? dueKeyOf(after.schedule, after.state) : null;
  if (old && !(next && JSON.stringify(old) === JSON.stringify(next))) op.delete(old);
  if (next) op.set(next, null);
}

/** How adding a schedule ended. */
export type ScheduleAddOutcome = { kind: "added" } | { kind: "exists"; existing: Schedule };

/** Stores a new schedule and its first state, in one commit checked that the name is free. */
export async function scheduleAdd(
  kv: Deno.Kv,
  created: { schedule: Schedule; state: ScheduleState },
): Promise<ScheduleAddOutcome> {
  const { schedule, state } = created;
  const op = kv.atomic()
    .check({ key: scheduleKey(schedule.name), versionstamp: null })
    .set(scheduleKey(schedule.name), schedule)
    .set(scheduleNextKey(schedule.name), state);
  addDueMove(op, null, created);
  if ((await op.commit()).ok) return { kind: "added" };
  const existing = await scheduleGet(kv, schedule.name);
  if (existing) return { kind: "exists", existing: existing.schedule };
  throw new Error(`Could not add schedule "${schedule.name}": the store changed; try again`);
}

/** How changing a schedule ended. */
export type ScheduleChangeOutcome =
  | { kind: "changed"; schedule: Schedule; state: ScheduleState }
  | { kind: "not_found" };

/**
 * Applies `change` to a schedule in one commit checked against both of its keys (a firing
 * in between makes it read again); a null change deletes the schedule.
 */
async function scheduleChange(
  kv: Deno.Kv,
  name: string,
  change: (
    entry: ScheduleEntry,
  ) => { schedule: Schedule; state: ScheduleState } | null,
): Promise<ScheduleChangeOutcome> {
  for (let tries = 0; tries < 20; tries++) {
    const entry = await scheduleGet(kv, name);
    if (!entry) return { kind: "not_found" };
    const after = change(entry);
    const op = kv.atomic()
      .check({ key: scheduleKey(name), versionstamp: entry.versionstamp })
      .check({ key: scheduleNextKey(name), versionstamp: entry.stateVersionstamp });
    if (after) op.set(scheduleKey(name), after.schedule).set(scheduleNextKey(name), after.state);
    else op.delete(scheduleKey(name)).delete(scheduleNextKey(name));
    addDueMove(op, entry, after);
    if ((await op.commit()).ok) {
      return {
        kind: "changed",
        schedule: (after ?? entry).schedule,
        state: (after ?? entry).state,
      };
    }
  }
  throw new Error(`Could not change schedule "${name}": it kept changing; try again`);
}

/** Deletes a schedule (its fired jobs stay). */
export function scheduleRemove(kv: Deno.Kv, name: string): Promise<ScheduleChangeOutcome> {
  return scheduleChange(kv, name, () => null);
}

/** Pauses a schedule (no tick fires), or resumes it from the first tick after `now`. */
export function scheduleSetPaused(
  kv: Deno.Kv,
  name: string,
  input: { paused: boolean; now: Date },
): Promise<ScheduleChangeOutcome> {
  return scheduleChange(kv, name, (entry) => schedulePaused(entry, input));
}

/** How one look at a due schedule ended: every outcome of a firing attempt. */
export type FiringOutcome =
  | { kind: "fired"; name: string; tick: string; job: Job; missed: number }
  | { kind: "skipped"; name: string; tick: string; running: string; missed: number }
  /** The tick's job id was taken already (by a schedule of the same name before): not fired again. */
  | { kind: "already_fired"; name: string; tick: string; job_id: string }
  /** Another worker fired (or skipped) the tick first. */
  | { kind: "raced"; name: string }
  | { kind: "not_due"; name: string; next_fire_at: string | null }
  | { kind: "paused"; name: string }
  | { kind: "gone"; name: string };

/** Fills a job's exit-code policy from its queue's settings when the schedule gives none. */
async function withQueuePolicy(kv: Deno.Kv, job: Job): Promise<Job> {
  const q = (await queueSettingsGetMany(kv, [job.queue])).get(job.queue);
  if (!q) return job;
  return {
    ...job,
    retry_on: job.retry_on ?? q.retry_on,
    fail_fast_on: job.fail_fast_on ?? q.fail_fast_on,
  };
}

/** Adds to `op` the insert of a fired job (checked absent), and its edge to the run it waits for. */
function addFiredJob(op: Deno.AtomicOperation, job: Job): void {
  op.check({ key: jobKey(job.id), versionstamp: null });
  addJobChange(op, null, job);
  op.set(queueKey(job.queue), null);
  for (const parent of job.waiting_on) {
    op.set(depKey(parent, job.id), null).sum(dependentsKey(parent), 1n);
  }
}

/**
 * Fires (or skips) the next due tick of one schedule at `now`, in one commit that checks
 * the definition, the next-fire key and the last job as read, and that the tick's job id
 * is free: at most 4 checks, within the 10 a KV Connect commit allows.
 */
export async function fireNextTick(
  kv: Deno.Kv,
  name: string,
  input: { now: Date; config?: Config },
): Promise<FiringOutcome> {
  let raced = false;
  for (let tries = 0; tries < 10; tries++) {
    const entry = await scheduleGet(kv, name);
    if (!entry) return { kind: "gone", name };
    const last = entry.state.last_job_id ? await jobGet(kv, entry.state.last_job_id) : null;
    const decision = decideFiring(entry, {
      now: input.now,
      lastJob: last?.job ?? null,
    });
    if (decision.kind === "paused") return { kind: "paused", name };
    if (decision.kind === "not_due") {
      return raced ? { kind: "raced", name } : { ...decision, name };
    }
    const op = kv.atomic()
      .check({ key: scheduleKey(name), versionstamp: entry.versionstamp })
      .check({ key: scheduleNextKey(name), versionstamp: entry.stateVersionstamp });
    if (last) op.check({ key: jobKey(last.job.id), versionstamp: last.versionstamp });
    let job: Job | null = null;
    let state = decision.state;
    const tick = decision.tick.toISOString();
    if (decision.kind === "fire") {
      const id = scheduleJobId(name, decision.tick.getTime());
      if (await jobGet(kv, id)) {
        state = { ...state, last_outcome: null, fires: entry.state.fires };
      } else {
        job = await withQueuePolicy(
          kv,
          firedJob(entry.schedule, {
            id,
            now: input.now,
            seq: nextSeq(input.now.getTime()),
            config: input.config ?? await configLoad(kv),
            after: decision.after,
          }),
        );
        addFiredJob(op, job);
      }
    }
    op.set(scheduleNextKey(name), state);
    addDueMove(op, entry, { schedule: entry.schedule, state });
    if (!(await op.commit()).ok) {
      raced = true; // another worker fired it, or the schedule or its last job changed
      continue;
    }
    if (decision.kind === "skip") {
      return { kind: "skipped", name, tick, running: decision.running, missed: decision.missed };
    }
    if (!job) {
      return {
        kind: "already_fired",
        name,
        tick,
        job_id: scheduleJobId(name, decision.tick.getTime()),
      };
    }
    return { kind: "fired", name, tick, job, missed: decision.missed };
  }
  return { kind: "raced", name };
}

/** How many due schedules one pass looks at. */
const DUE_BATCH = 50;

/**
 * Fires every tick due at `now`: reads the due index up to `now` and, for each schedule
 * found, fires its due ticks one commit each (more than one only in a catch-up). Safe to
 * call from any number of workers on any number of hosts at once: each tick fires once.
 */
export async function fireDueSchedules(kv: Deno.Kv, now: Date): Promise<FiringOutcome[]> {
  const names = new Set<string>();
  const selector = {
    prefix: SCHEDULE_DUE_PREFIX,
    end: [...SCHEDULE_DUE_PREFIX, now.getTime() + 1],
  };
  for await (const e of kv.list(selector, { limit: DUE_BATCH })) names.add(e.key[2] as string);
  const outcomes: FiringOutcome[] = [];
  if (names.size === 0) return outcomes;
  const config = await configLoad(kv);
  for (const name of names) {
    // A catch-up fires several ticks, one commit each; the last look finds none due.
    for (let round = 0; round < 200; round++) {
      const outcome = await fireNextTick(kv, name, { now, config });
      outcomes.push(outcome);
      if (
        outcome.kind !== "fired" && outcome.kind !== "skipped" && outcome.kind !== "already_fired"
      ) {
        break;
      }
    }
  }
  return outcomes;
}

/** How `schedule run` ended. */
export type RunNowOutcome = { kind: "fired"; job: Job } | { kind: "not_found" };

/**
 * Fires a schedule now, by hand, whatever its ticks and overlap (with overlap `queue`, the
 * job waits for an unfinished last run); the next tick is unchanged.
 */
export async function scheduleRunNow(
  kv: Deno.Kv,
  name: string,
  input: { now: Date },
): Promise<RunNowOutcome> {
  // Two runs in one millisecond would share an id: the second takes the next millisecond.
  let at = input.now.getTime();
  for (let tries = 0; tries < 20; tries++) {
    const entry = await scheduleGet(kv, name);
    if (!entry) return { kind: "not_found" };
    const last: JobEntry | null = entry.state.last_job_id
      ? await jobGet(kv, entry.state.last_job_id)
      : null;
    const unfinished = last && !FINAL_STATES.includes(last.job.state) ? last.job.id : null;
    const job = await withQueuePolicy(
      kv,
      firedJob(entry.schedule, {
        id: manualJobId(name, at),
        now: input.now,
        seq: nextSeq(input.now.getTime()),
        config: await configLoad(kv),
        after: entry.schedule.overlap === "queue" ? unfinished : null,
      }),
    );
    const op = kv.atomic()
      .check({ key: scheduleKey(name), versionstamp: entry.versionstamp })
      .check({ key: scheduleNextKey(name), versionstamp: entry.stateVersionstamp });
    if (last) op.check({ key: jobKey(last.job.id), versionstamp: last.versionstamp });
    addFiredJob(op, job);
    op.set(scheduleNextKey(name), manualFired(entry.state, job.id));
    if ((await op.commit()).ok) return { kind: "fired", job };
    if (await jobGet(kv, job.id)) at++;
  }
  throw new Error(`Could not run schedule "${name}": it kept changing; try again`);
}
