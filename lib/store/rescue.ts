/**
 * The rescuer: moves scheduled jobs whose time has come into the ready index, and returns
 * jobs whose worker stopped renewing its lease (counting the lost attempt).
 * @module
 */

import { type Job, unreportedAttempt } from "../job.ts";
import type { BackoffSettings } from "../backoff.ts";
import { expireLease, promote } from "../state_machine.ts";
import { jobCommitChange, jobGetMany } from "./jobs.ts";
import { LEASE_PREFIX, leaseKey, SCHEDULED_PREFIX, scheduledKey } from "./keys.ts";
import { workerGet } from "./workers.ts";
import { configLoad } from "./config.ts";
import { backoffSettings } from "../config.ts";

/** What one pass of the rescuer did. */
export interface RescueReport {
  promoted: number;
  expired: number;
}

/** What the rescuer needs to know. */
export interface RescueOptions {
  now: Date;
  /** Retry timing for lost runs; default: the stored config's. */
  backoff?: BackoffSettings;
  /** Lost runs after which a job is quarantined as crashed; default: config max-lost. */
  maxLost?: number;
  limit?: number;
  random?: () => number;
  /**
   * Spares a job whose lease lapsed (true: leave it): its worker is known to be waiting out
   * a store outage, not gone.
   */
  spare?: (job: Job) => Promise<boolean>;
}

/** Promotes due scheduled jobs and expires lapsed leases, up to `limit` of each. */
export async function rescue(kv: Deno.Kv, options: RescueOptions): Promise<RescueReport> {
  const limit = options.limit ?? 100;
  return {
    promoted: await promoteDue(kv, options.now, limit),
    expired: await expireLapsed(kv, { ...options, limit }),
  };
}

/** When the earliest scheduled job is due (ms since the epoch), or null when none is. */
export async function nextScheduledAt(kv: Deno.Kv): Promise<number | null> {
  for await (const entry of kv.list({ prefix: SCHEDULED_PREFIX }, { limit: 1 })) {
    return entry.key[1] as number;
  }
  return null;
}

/** Moves scheduled jobs whose `next_run_at` has passed to the ready index. */
export async function promoteDue(kv: Deno.Kv, now: Date, limit: number): Promise<number> {
  const ids = await dueIds(kv, SCHEDULED_PREFIX, scheduledKey(now.getTime() + 1, ""), limit);
  let moved = 0;
  for (const entry of await jobGetMany(kv, ids)) {
    const next = promote(entry.job, now);
    if (next.ok && next.job !== entry.job && await jobCommitChange(kv, entry, next.job)) moved++;
  }
  return moved;
}

/**
 * Fails (or buries) processing jobs whose lease ran out: their worker is presumed lost.
 * The lost run counts as an attempt, recorded with outcome "lost".
 */
export async function expireLapsed(
  kv: Deno.Kv,
  options: RescueOptions & { limit: number },
): Promise<number> {
  const { now } = options;
  const ids = await dueIds(kv, LEASE_PREFIX, leaseKey(now.getTime() + 1, ""), options.limit);
  if (ids.length === 0) return 0;
  // The config is read only when a lease has lapsed and the caller did not pass it.
  const config = options.backoff && options.maxLost !== undefined ? null : await configLoad(kv);
  const backoff = options.backoff ?? backoffSettings(config!);
  const maxLost = options.maxLost ?? config!["max-lost"];
  let expired = 0;
  for (const entry of await jobGetMany(kv, ids)) {
    const next = expireLease(entry.job, {
      now,
      backoff,
      random: options.random?.(),
      maxLost,
    });
    if (!next.ok) continue;
    if (options.spare && await options.spare(entry.job)) continue;
    const workerId = entry.job.worker_id ?? "?";
    const outcome = { kind: "lost" as const, message: `lease of worker ${workerId} expired` };
    const worker = entry.job.worker_id ? await workerGet(kv, entry.job.worker_id) : null;
    const attempt = unreportedAttempt(entry.job, {
      outcome,
      now,
      workerId: entry.job.worker_id ?? "",
      host: worker?.host ?? "",
    });
    if (await jobCommitChange(kv, entry, next.job, { attempt })) expired++;
  }
  return expired;
}

async function dueIds(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  end: Deno.KvKey,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of kv.list<string>({ start: prefix, end }, { limit })) {
    ids.push(entry.value);
  }
  return ids;
}
