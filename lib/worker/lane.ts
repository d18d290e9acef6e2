/**
 * A lane: claim → run → finish, over and over, with upkeep between jobs, a growing idle
 * wait (cut short by wake-ups) when nothing is ready, and store errors retried after a
 * pause: an unavailable store for as long as it takes, other errors until too many come in
 * a row.
 * @module
 */
import { jobClaimNext } from "../store/claim.ts";
import { outstandingIn } from "../store/counts.ts";
import { claimOptionsFor } from "./claims.ts";
import { configCurrent, type WorkerContext } from "./context.ts";
import { errorVerdict } from "./error_policy.ts";
import { errorLine } from "./events.ts";
import { outageFailed, outageOk, outagePause } from "./outage.ts";
import { runJob } from "./run_job.ts";
import { upkeepRun } from "./upkeep.ts";
import { idle } from "./wakeups.ts";

/** How a step ended: it ran jobs, found none (and waited), or the drain is over. */
export type StepOutcome =
  | { kind: "ran" }
  | { kind: "contended" }
  | { kind: "idle"; woken: boolean }
  | { kind: "drained" };

/** A lane's idle wait (grown while nothing is ready), and whether a wake-up ended it. */
export interface LaneWait {
  ms: number;
  woken?: boolean;
  /** When this lane last ran its upkeep (Date.now()). */
  upkeepAt?: number;
}

/** Runs the upkeep due for this lane; a failed task is thrown (it counts as a store error). */
export async function laneUpkeep(ctx: WorkerContext, lane: number): Promise<void> {
  const outcome = await upkeepRun(ctx.upkeep, {
    lane,
    now: Date.now(),
    config: await configCurrent(ctx),
    start: false,
  });
  if (outcome.kind === "failed") throw outcome.error;
}

/** Drain is over when no job is ready or waiting for a retry in the served queues. */
async function nothingLeft(ctx: WorkerContext): Promise<boolean> {
  // Jobs still running, or dependents still being released, may add ready jobs.
  if (ctx.control.running.size > 0 || ctx.landing.size > 0) return false;
  return await outstandingIn(ctx.kv, ctx.queues) === 0;
}

/**
 * One claim → run → finish step (and the runs of the jobs each finishing commit claimed
 * after it). `wait` is the lane's idle wait, grown while nothing is ready.
 */
export async function laneStep(
  ctx: WorkerContext,
  lane: number,
  wait: LaneWait,
): Promise<StepOutcome> {
  // Woken by a wake-up: claim first (the upkeep waits for the next step, unless it has
  // not run for a rescuer's period), so that a new job starts without the upkeep's reads.
  const now = Date.now();
  if (!wait.woken || now - (wait.upkeepAt ?? 0) >= ctx.timing.rescueMs) {
    await laneUpkeep(ctx, lane);
    wait.upkeepAt = now;
  }
  wait.woken = false;
  const config = await configCurrent(ctx);
  const wakeupsBefore = ctx.wakeups.count;
  const claimed = await jobClaimNext(ctx.kv, claimOptionsFor(ctx, config));
  if (claimed.kind === "claimed") {
    wait.ms = ctx.timing.idleMinMs;
    let next = await runJob(ctx, claimed.entry, { lane });
    while (next) {
      // A job is already claimed: an error here is reported, not thrown (it would leave
      // that job to wait out its lease).
      await laneUpkeep(ctx, lane).catch((error) => {
        if (!outageFailed(ctx, error)) ctx.emit({ kind: "error", message: errorLine(error) });
      });
      next = await runJob(ctx, next.entry, { lane, before: next.before });
    }
    return { kind: "ran" };
  }
  if (claimed.kind === "contended") return { kind: "contended" };
  if (ctx.drain && await nothingLeft(ctx)) return { kind: "drained" };
  if (ctx.wakeups.count === wakeupsBefore) {
    // No longer than until the next scheduled job is due (its promotion makes it ready).
    const due = ctx.nextDue?.at;
    const ms = due == null ? wait.ms : Math.min(wait.ms, Math.max(due - Date.now(), 0) + 1);
    await idle(ms, { stop: ctx.control.stopping.signal, wakeable: ctx.wakeups });
  }
  // Woken, during the claim or the wait (a job was enqueued on this host): look again at
  // once, and soon after.
  const woken = ctx.wakeups.count !== wakeupsBefore;
  wait.ms = woken ? ctx.timing.idleMinMs : Math.min(wait.ms * 2, ctx.timing.idleMaxMs);
  wait.woken = woken;
  return { kind: "idle", woken };
}

/**
 * Steps until the worker stops or the drain is over. An unavailable store (read-only, full,
 * unreachable) is waited out with a pause growing to 30 s, said once in the log (see
 * outage.ts); another store error is logged and retried after a growing pause, and when
 * the error policy gives up, the worker stops by force (its jobs go back) and the error is
 * kept as fatal.
 */
export async function laneRun(ctx: WorkerContext, lane: number): Promise<void> {
  const wait: LaneWait = { ms: ctx.timing.idleMinMs };
  const stopping = ctx.control.stopping.signal;
  while (!stopping.aborted) {
    try {
      const step = await laneStep(ctx, lane, wait);
      if (step.kind === "ran") outageOk(ctx); // its claim was a write that landed
      if (step.kind === "drained") break;
      ctx.errors.inARow = 0;
    } catch (error) {
      if (outageFailed(ctx, error)) {
        await idle(outagePause(ctx.outage), { stop: stopping, wakeable: ctx.wakeups });
        continue;
      }
      ctx.errors.inARow++;
      ctx.emit({ kind: "error", message: errorLine(error) });
      const verdict = errorVerdict(ctx.errors.inARow, { kind: "other" });
      if (verdict.kind === "give_up") {
        ctx.errors.fatal ??= error instanceof Error ? error : new Error(String(error));
        ctx.stop(true, "error");
        break;
      }
      await idle(verdict.pauseMs, { stop: stopping });
    }
  }
}
