/**
 * The upkeep every worker does: the rescuer (jobs whose lease ran out go back), the sweep
 * for dependents stranded by a process that died while releasing them, and pruning of old
 * completed jobs.
 * @module
 */
import { backoffSettings } from "../config.ts";
import type { Job } from "../job.ts";
import type { Paths } from "../paths.ts";
import { releaseStranded } from "../store/jobs.ts";
import { nextScheduledAt, rescue } from "../store/rescue.ts";
import { purgeFinished } from "../store/purge.ts";
import { laneStatsRollUp } from "../store/stats.ts";
import { minuteOf } from "../stats.ts";
import type { NextDue } from "./context.ts";
import type { PeriodicTask } from "./upkeep.ts";

/**
 * Puts back jobs whose lease ran out (their worker is gone) and promotes scheduled jobs
 * that are due, every `everyMs`; with `nextDue`, also reads when the next scheduled job is
 * due and runs again by then. Jobs `spare` says so of are left (their worker waits out a
 * store outage, or renews their leases after one).
 */
export function rescuerTask(
  kv: Deno.Kv,
  everyMs: number,
  options: { nextDue?: NextDue | null; spare?: (job: Job) => Promise<boolean> } = {},
): PeriodicTask {
  const { nextDue, spare } = options;
  let ranAt = 0;
  return {
    name: "rescue",
    atStart: true,
    everyMs: () =>
      nextDue?.at == null ? everyMs : Math.max(0, Math.min(everyMs, nextDue.at - ranAt)),
    run: async ({ config }) => {
      ranAt = Date.now();
      await rescue(kv, {
        now: new Date(),
        backoff: backoffSettings(config),
        maxLost: config["max-lost"],
        random: Math.random,
        spare,
      });
      if (nextDue) {
        // One still due after the pass could not be promoted: no point waking for it.
        const at = await nextScheduledAt(kv);
        nextDue.at = at !== null && at > Date.now() ? at : null;
      }
    },
  };
}

/** Releases dependents a dead process left waiting on a finished parent, every `everyMs`. */
export function strandedSweepTask(kv: Deno.Kv, everyMs: number): PeriodicTask {
  const cursor = { after: null as Deno.KvKey | null };
  return {
    name: "stranded-sweep",
    atStart: true,
    everyMs: () => everyMs,
    run: async () => {
      await releaseStranded(kv, cursor);
    },
  };
}

/**
 * Purges completed jobs older than `keep-completed`, 50 at most per pass, about every half
 * of that period (at most once a minute, at least every 250 ms); never when it is 0.
 */
export function pruneTask(kv: Deno.Kv, paths: Paths): PeriodicTask {
  return {
    name: "prune",
    firstLaneOnly: true,
    everyMs: (config) => {
      const keepMs = config["keep-completed"] * 1000;
      return keepMs === 0 ? null : Math.min(Math.max(keepMs / 2, 250), 60_000);
    },
    run: async ({ now, config }) => {
      await purgeFinished(kv, paths, {
        states: ["completed"],
        olderThan: new Date(now - config["keep-completed"] * 1000),
        scan: 50,
      });
    },
  };
}

/**
 * Folds the lanes' per-minute statistics records into the minute and total counters once
 * their minute is two minutes over, about once a minute (the first lane of each worker).
 */
export function statsRollUpTask(kv: Deno.Kv): PeriodicTask {
  return {
    name: "stats-roll-up",
    firstLaneOnly: true,
    everyMs: () => 60_000,
    run: async ({ now }) => {
      await laneStatsRollUp(kv, minuteOf(now) - 2 * 60_000);
    },
  };
}

/** The upkeep every worker does, in the order it runs. */
export function standardTasks(
  kv: Deno.Kv,
  paths: Paths,
  timing: { rescueMs: number; sweepMs: number; nextDue?: NextDue | null },
  spare?: (job: Job) => Promise<boolean>,
): PeriodicTask[] {
  return [
    strandedSweepTask(kv, timing.sweepMs),
    rescuerTask(kv, timing.rescueMs, { nextDue: timing.nextDue, spare }),
    pruneTask(kv, paths),
    statsRollUpTask(kv),
  ];
}
