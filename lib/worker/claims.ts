/**
 * How a lane claims: its options as of now (the oldest of the best jobs its sibling lanes
 * have not taken, or a random one after lost races), and the claim of its next job added
 * to the commit that finishes its last one.
 * @module
 */
import type { Config } from "../config.ts";
import type { Job } from "../job.ts";
import {
  addClaim,
  type ClaimCandidates,
  claimCandidates,
  type ClaimOptions,
} from "../store/claim.ts";
import type { JobEntry } from "../store/jobs.ts";
import type { WorkerContext } from "./context.ts";

/**
 * How old the ready jobs read while a job ran may be to pick the next job in the commit
 * that finishes it; older ones (the job ran long) are read again first.
 */
const FOLLOW_UP_FRESH_MS = 25;

/** How long after a lost claim race a worker picks among the best jobs at random. */
const CONTENDED_SPREAD_MS = 2000;

/** A claim added to a finishing commit: the job as claimed and as it was. */
export interface FollowUp {
  job: Job;
  before: Job;
  /** The entry as read (its claim is released if the commit fails). */
  entry: JobEntry;
  candidates: ClaimCandidates;
  options: ClaimOptions;
}

/**
 * How a lane claims, as of now: the oldest of the best jobs that no sibling lane has
 * taken (they share the process's `taken` set, so they never race each other), or, after
 * a claim lost a race to another worker process, a random one of the best few for a
 * while, so that busy workers rarely collide.
 */
export function claimOptionsFor(ctx: WorkerContext, config: Config): ClaimOptions {
  const contended = Date.now() - ctx.claims.contendedAt < CONTENDED_SPREAD_MS;
  return {
    workerId: ctx.id,
    leaseSeconds: config["lease-seconds"],
    now: new Date(),
    queues: ctx.queues ?? undefined,
    cache: ctx.claims,
    spread: contended ? Math.floor(Math.random() * 1024) : 0,
  };
}

/**
 * Adds to `op` the claim of the best ready job for a lane's next run, from the jobs read
 * while the last one ran (read again when that was a while ago). Null when none.
 */
export async function followUpClaim(
  ctx: WorkerContext,
  op: Deno.AtomicOperation,
  options: { claim: ClaimOptions; read: ClaimCandidates | null; finishing: Job },
): Promise<FollowUp | null> {
  let candidates = options.read;
  if (!candidates || Date.now() - candidates.at > FOLLOW_UP_FRESH_MS) {
    candidates = await claimCandidates(ctx.kv, options.claim, options.finishing.queue)
      .catch(() => null);
  }
  if (!candidates) return null;
  for (const entry of candidates.entries) {
    if (entry.job.id === options.finishing.id) continue;
    const job = await addClaim(ctx.kv, op, candidates, entry, options.claim);
    if (job) return { job, before: entry.job, entry, candidates, options: options.claim };
  }
  return null;
}
