/**
 * Upkeep: the periodic work a worker's lanes do between jobs, as a list of named tasks,
 * each run at most once per its period by whichever lane comes by first (or by the first
 * lane only). The tasks themselves are in lib/worker/upkeep_tasks.ts; a worker can be given
 * more.
 * @module
 */
import type { Config } from "../config.ts";

/** One pass of upkeep: who runs it, when, under which settings. */
export interface UpkeepPass {
  /** The lane doing it (0 is the first). */
  lane: number;
  /** Date.now() at the pass. */
  now: number;
  config: Config;
  /** The worker's first pass, before its lanes start: tasks marked `atStart` run. */
  start: boolean;
}

/** A piece of periodic work. */
export interface PeriodicTask {
  /** Names it in errors and outcomes. */
  name: string;
  /** Milliseconds between runs under these settings; null when it is not to run at all. */
  everyMs(config: Config): number | null;
  /** Only the first lane runs it (one run per worker is enough). */
  firstLaneOnly?: boolean;
  /** Runs in the worker's first pass; else its first run waits one period. */
  atStart?: boolean;
  run(pass: UpkeepPass): Promise<void>;
}

/** The tasks and when each last ran. */
export interface UpkeepState {
  tasks: PeriodicTask[];
  lastRun: Map<string, number>;
}

/** How a pass went: the tasks it ran, and the one that failed (the rest then did not run). */
export type UpkeepOutcome =
  | { kind: "done"; ran: string[] }
  | { kind: "failed"; ran: string[]; task: string; error: unknown };

/** Upkeep of these tasks, starting at `now`. */
export function upkeepNew(tasks: PeriodicTask[], now: number): UpkeepState {
  const names = new Set(tasks.map((t) => t.name));
  if (names.size !== tasks.length) throw new Error("Upkeep tasks need distinct names");
  return {
    tasks,
    lastRun: new Map(tasks.map((t) => [t.name, t.atStart ? -Infinity : now])),
  };
}

/** The tasks due in this pass, in their order (pure). */
export function upkeepDue(state: UpkeepState, pass: UpkeepPass): PeriodicTask[] {
  return state.tasks.filter((task) => {
    if (task.firstLaneOnly && pass.lane !== 0) return false;
    const every = task.everyMs(pass.config);
    if (every === null) return false;
    if (pass.start) return task.atStart === true;
    return pass.now - state.lastRun.get(task.name)! >= every;
  });
}

/**
 * Runs the tasks due, one after the other. Each is marked as run before it starts, so
 * lanes passing at the same time never run one task twice; a failure ends the pass.
 */
export async function upkeepRun(state: UpkeepState, pass: UpkeepPass): Promise<UpkeepOutcome> {
  const due = upkeepDue(state, pass);
  for (const task of due) state.lastRun.set(task.name, pass.now);
  const ran: string[] = [];
  for (const task of due) {
    try {
      await task.run(pass);
    } catch (error) {
      return { kind: "failed", ran, task: task.name, error };
    }
    ran.push(task.name);
  }
  return { kind: "done", ran };
}
