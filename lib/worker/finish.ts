/**
 * The commit that records how a job's attempt ended (fenced by its lease token) and, in the
 * same commit, claims the lane's next job; and the work left once it landed (releasing the
 * dependents the commit did not hold), done in the background until the worker exits.
 * @module
 */
import { backoffSettings, type Config } from "../config.ts";
import type { Attempt, AttemptOutcome, Job } from "../job.ts";
import { finish } from "../state_machine.ts";
import { type ClaimCandidates, claimFailed, takenRelease } from "../store/claim.ts";
import { addChange, changeLanded, CounterSums, type JobEntry, jobGet } from "../store/jobs.ts";
import { cancelRequestAbsent, cancelRequestClear } from "../store/requests.ts";
import {
  addLaneStats,
  type LaneStats,
  laneStatsNew,
  laneStatsRefresh,
  type StatsGather,
} from "../store/stats.ts";
import { claimOptionsFor, followUpClaim } from "./claims.ts";
import type { WorkerContext } from "./context.ts";
import { errorLine, summaryAdd } from "./events.ts";

/** Tries of a finishing commit before the job counts as taken over. */
const FINISH_TRIES = 5;

/** A job claimed by the commit that finished the lane's last one, and its record before. */
export interface Next {
  entry: JobEntry;
  before: Job;
}

/** How recording a finish ended. */
export type FinishOutcome =
  | { kind: "finished"; job: Job; next: Next | null }
  | { kind: "fenced"; job: Job; detail: string }
  | { kind: "gone" };

/** What a finishing commit needs besides the job's record. */
export interface FinishInput {
  outcome: AttemptOutcome;
  attempt: Attempt;
  config: Config;
  lane: number;
  /** The job's dependents marker, read while it ran (undefined: read it in the commit). */
  dependents: Promise<Deno.KvEntryMaybe<Deno.KvU64> | undefined>;
  /** The ready jobs read while it ran, for the claim of the next one (null: none read). */
  followUp: Promise<ClaimCandidates | null> | null;
}

/**
 * Records the end of a job's attempt in one commit that also claims the lane's next job
 * when one is ready and the worker is not stopping (one commit per job instead of two). A
 * commit that failed (the record changed) is retried on the record read again, without
 * the claim; after FINISH_TRIES, or when the lease token no longer matches, it is fenced.
 */
export async function finishCommit(
  ctx: WorkerContext,
  entry: JobEntry,
  input: FinishInput,
): Promise<FinishOutcome> {
  const { kv } = ctx;
  const finishedAt = new Date(input.attempt.finished_at);
  const token = entry.job.lease_token!;
  let current = entry;
  for (let tries = 0; tries < FINISH_TRIES; tries++) {
    const next = finish(current.job, {
      now: finishedAt,
      leaseToken: token,
      outcome: input.outcome,
      backoff: backoffSettings(input.config),
      random: Math.random(),
    });
    if (!next.ok) return { kind: "fenced", job: current.job, detail: next.detail };
    const op = kv.atomic();
    // Counters and statistics of the finish and the claim are written once for both: the
    // running count's −1 and +1 cancel out, and the statistics are one lane record.
    const gather = { sums: new CounterSums(), stats: { deltas: [] } as StatsGather };
    // A cancel nobody saw is checked absent (a check, not a write); a seen one is removed.
    const seen = tries > 0 || input.outcome.kind === "cancelled";
    const prepared = await addChange(kv, op, current, next.job, {
      attempt: input.attempt,
      more: (op) => (seen ? cancelRequestClear : cancelRequestAbsent)(op, current.job.id),
      dependents: tries === 0 ? await input.dependents : undefined,
      ...gather,
    });
    // The first try also claims the next job; a failed commit is retried without it.
    const follow = tries === 0 && !ctx.control.stopping.signal.aborted
      ? await followUpClaim(ctx, op, {
        claim: { ...claimOptionsFor(ctx, input.config), gather },
        read: await input.followUp,
        finishing: current.job,
      })
      : null;
    gather.sums.flush(op);
    const stats = addLaneStats(op, laneStatsOf(ctx, input.lane), gather.stats.deltas, +finishedAt);
    const committed = await op.commit().catch((error) => {
      if (follow) takenRelease(follow.options, follow.entry);
      throw error;
    });
    if (committed.ok) {
      ctx.laneStats.set(input.lane, { ...stats, versionstamp: committed.versionstamp });
      landingAdd(ctx, next.job, changeLanded(kv, prepared));
      summaryAdd(ctx.summary, next.job, input.attempt);
      ctx.emit({ kind: "finished", job: next.job, attempt: input.attempt });
      return {
        kind: "finished",
        job: next.job,
        next: follow
          ? {
            entry: { job: follow.job, versionstamp: committed.versionstamp },
            before: follow.before,
          }
          : null,
      };
    }
    if (follow) {
      takenRelease(follow.options, follow.entry);
      await claimFailed(kv, follow.candidates, follow.options);
    }
    ctx.laneStats.set(input.lane, await laneStatsRefresh(kv, laneStatsOf(ctx, input.lane)));
    const fresh = await jobGet(kv, current.job.id);
    if (!fresh) return { kind: "gone" };
    current = fresh;
  }
  return { kind: "fenced", job: current.job, detail: "its lease was taken over" };
}

/** The lane's statistics record as it knows it. */
function laneStatsOf(ctx: WorkerContext, lane: number): LaneStats {
  let stats = ctx.laneStats.get(lane);
  if (!stats) ctx.laneStats.set(lane, stats = laneStatsNew(ctx.id, lane));
  return stats;
}

/**
 * Keeps track of work left after a finishing commit landed (releasing dependents it did
 * not hold), done while the lane runs its next job; a failure is a warning (a later sweep
 * retries).
 */
export function landingAdd(ctx: WorkerContext, job: Job, work: Promise<void>): void {
  const task = work.catch((error) => {
    try {
      ctx.emit({
        kind: "warning",
        job,
        message: `releasing its dependents failed (a later sweep retries): ${errorLine(error)}`,
      });
    } catch {
      // a broken event sink must not fail the worker's exit
    }
  }).finally(() => ctx.landing.delete(task));
  ctx.landing.add(task);
}

/** Waits until the work left after landed commits is done. */
export async function landingSettled(ctx: WorkerContext): Promise<void> {
  while (ctx.landing.size > 0) await Promise.allSettled([...ctx.landing]);
}
