/**
 * The rescuer: moves scheduled jobs whose time has come into the ready index, and returns
 * jobs whose worker stopped renewing its lease (counting the lost attempt).
 * @module
 */
import type { Attempt } from "../job.ts";
import { outcomeError } from "../job.ts";
import type { BackoffSettings } from "../backoff.ts";
import { expireLease, promote } from "../state_machine.ts";
import { jobCommitChange, jobGetMany } from "./jobs.ts";
import { LEASE_PREFIX, leaseKey, SCHEDULED_PREFIX, scheduledKey } from "./keys.ts";

/** What one pass of the rescuer did. */
export interface RescueReport {
  promoted: number;
  expired: number;
}

/** Promotes due scheduled jobs and expires lapsed leases, up to `limit` of each. */
export async function rescue(
  kv: Deno.Kv,
  options: { now: Date; backoff: BackoffSettings; limit?: number; random?: () => number },
): Promise<RescueReport> {
  const limit = options.limit ?? 100;
  return {
    promoted: await promoteDue(kv, options.now, limit),
    expired: await expireLapsed(kv, { ...options, limit }),
  };
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

/** Fails (or buries) processing jobs whose lease ran out: their worker is presumed lost. */
export async function expireLapsed(
  kv: Deno.Kv,
  options: { now: Date; backoff: BackoffSettings; limit: number; random?: () => number },
): Promise<number> {
  const { now } = options;
  const ids = await dueIds(kv, LEASE_PREFIX, leaseKey(now.getTime() + 1, ""), options.limit);
  let expired = 0;
  for (const entry of await jobGetMany(kv, ids)) {
    const next = expireLease(entry.job, {
      now,
      backoff: options.backoff,
      random: options.random?.(),
    });
    if (!next.ok) continue;
    const started = entry.job.started_at ?? now.toISOString();
    const outcome = { kind: "lost" as const, message: "lease expired (worker gone or stalled)" };
    const attempt: Attempt = {
      job_id: entry.job.id,
      attempt: entry.job.attempts,
      worker_id: entry.job.worker_id ?? "",
      host: "",
      started_at: started,
      finished_at: now.toISOString(),
      duration_ms: Math.max(0, now.getTime() - Date.parse(started)),
      outcome,
      exit_code: null,
      error: outcomeError(outcome),
      output_tail: "",
    };
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
