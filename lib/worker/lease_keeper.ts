/**
 * The lease keeper: while a job runs, renews its lease every third of the lease period,
 * fenced by the lease token; finds out when another worker took the job over (then stops
 * the run).
 * @module
 */
import type { Job } from "../job.ts";
import { renewLease } from "../state_machine.ts";
import { jobCommitChange, type JobEntry, jobGet } from "../store/jobs.ts";

/** The job record operations a lease keeper needs (the store; tests pass their own). */
export interface LeaseStore {
  /** Commits `job` over `entry` if it is unchanged; the new versionstamp, or null. */
  commit(entry: JobEntry, job: Job): Promise<{ versionstamp: string } | null>;
  /** The job's record now, or null. */
  get(id: string): Promise<JobEntry | null>;
}

/** The job records of a store. */
export function storeLeases(kv: Deno.Kv): LeaseStore {
  return {
    commit: async (entry, job) => {
      const result = await jobCommitChange(kv, entry, job);
      return result ? { versionstamp: result.versionstamp } : null;
    },
    get: (id) => jobGet(kv, id),
  };
}

/** How keeping a lease ended: still held (with the record as last seen), or lost. */
export type LeaseOutcome =
  | { kind: "held"; entry: JobEntry }
  | { kind: "lost"; entry: JobEntry };

/** What one renewal did. */
export type RenewOutcome =
  | { kind: "renewed"; entry: JobEntry }
  | { kind: "kept"; entry: JobEntry }
  | { kind: "lost" };

/** A lease being kept; `release` stops renewing and says whether it was held to the end. */
export interface LeaseKeeper {
  /** The job's record as last seen by the keeper. */
  current(): JobEntry;
  release(): Promise<LeaseOutcome>;
}

/** Renewal period for a lease of `leaseSeconds`: a third of it, at least 200 ms. */
export function renewEveryMs(leaseSeconds: number): number {
  return Math.max(200, (leaseSeconds * 1000) / 3);
}

/**
 * Renews once: commits a longer lease; when the record changed meanwhile it is read again,
 * and the lease counts as kept if the record still carries our token in `processing`.
 */
export async function renewOnce(
  store: LeaseStore,
  entry: JobEntry,
  options: { leaseToken: string; leaseSeconds: number; now: Date },
): Promise<RenewOutcome> {
  const next = renewLease(entry.job, options);
  if (next.ok) {
    const result = await store.commit(entry, next.job);
    if (result) {
      return { kind: "renewed", entry: { job: next.job, versionstamp: result.versionstamp } };
    }
  }
  const fresh = await store.get(entry.job.id);
  if (fresh && fresh.job.lease_token === options.leaseToken && fresh.job.state === "processing") {
    return { kind: "kept", entry: fresh }; // changed by something that kept our lease
  }
  return { kind: "lost" };
}

/**
 * Keeps the lease of a claimed job: renews it every `renewEveryMs` (renewals never overlap);
 * `onLost` is called once another worker owns the job, `onError` when a renewal failed (it
 * is retried at the next period).
 */
export function leaseKeep(
  store: LeaseStore,
  claimed: JobEntry,
  options: {
    leaseSeconds: number;
    onLost: () => void;
    onError: (error: unknown) => void;
    /** Called after each renewal that was written. */
    onRenewed?: () => void;
    everyMs?: number;
  },
): LeaseKeeper {
  const token = claimed.job.lease_token!;
  let current = claimed;
  let lost = false;
  let chain = Promise.resolve();
  const renew = async () => {
    if (lost) return;
    const outcome = await renewOnce(store, current, {
      leaseToken: token,
      leaseSeconds: options.leaseSeconds,
      now: new Date(),
    });
    if (outcome.kind === "lost") {
      lost = true;
      options.onLost();
    } else {
      current = outcome.entry;
      if (outcome.kind === "renewed") options.onRenewed?.();
    }
  };
  const timer = setInterval(() => {
    const step = () => renew().catch(options.onError);
    chain = chain.then(step, step);
  }, options.everyMs ?? renewEveryMs(options.leaseSeconds));
  return {
    current: () => current,
    release: async () => {
      clearInterval(timer);
      await chain;
      return lost ? { kind: "lost", entry: current } : { kind: "held", entry: current };
    },
  };
}
