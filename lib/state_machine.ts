/**
 * The only code that changes a job's state: pure functions of (job, input, now) → job.
 * Every other module asks here and stores what comes back.
 * @module
 */
import type { AttemptOutcome, DeadReason, Job, JobState } from "./job.ts";
import { FINAL_STATES, outcomeError, outcomeExitCode, runNumber } from "./job.ts";
import { type BackoffSettings, nextRunAt } from "./backoff.ts";

/** The result of asking for a transition: the new job, or why it is not allowed. */
export type Transition =
  | { ok: true; job: Job }
  | {
    ok: false;
    reason: "wrong_state" | "not_due" | "lease_mismatch" | "lease_live";
    detail: string;
  };

const refuse = (
  reason: "wrong_state" | "not_due" | "lease_mismatch" | "lease_live",
  detail: string,
): Transition => ({ ok: false, reason, detail });

/** Reports whether a job may be claimed at `now`. */
export function isDue(job: Job, now: Date): boolean {
  return (job.state === "pending" || job.state === "failed") && !isBlocked(job) &&
    (job.next_run_at === null || Date.parse(job.next_run_at) <= now.getTime());
}

/** Reports whether a pending job still waits for dependencies. */
export function isBlocked(job: Job): boolean {
  return job.state === "pending" && (job.waiting_on?.length ?? 0) > 0;
}

/** pending|failed (due) → processing: a worker takes the job under a fresh lease. */
export function claim(
  job: Job,
  input: { now: Date; workerId: string; leaseToken: string; leaseSeconds: number },
): Transition {
  if (job.state !== "pending" && job.state !== "failed") {
    return refuse("wrong_state", `job "${job.id}" is ${job.state}`);
  }
  if (isBlocked(job)) return refuse("not_due", `job "${job.id}" waits for its dependencies`);
  if (!isDue(job, input.now)) return refuse("not_due", `job "${job.id}" is not due yet`);
  const now = input.now.toISOString();
  return {
    ok: true,
    job: {
      ...job,
      state: "processing",
      attempts: job.attempts + 1,
      runs: runNumber(job) + 1,
      next_run_at: null,
      worker_id: input.workerId,
      lease_token: input.leaseToken,
      lease_expires_at: leaseEnd(input.now, input.leaseSeconds),
      started_at: now,
      finished_at: null,
      updated_at: now,
    },
  };
}

/**
 * processing → the job as it was before `claim`, for the holder of the lease, when the
 * run never started (a worker that claimed its next job as it was being stopped): the
 * claim is undone, nothing is counted.
 */
export function unclaim(job: Job, input: { leaseToken: string; before: Job }): Transition {
  const held = checkLease(job, input.leaseToken);
  if (held) return held;
  if (input.before.id !== job.id || input.before.state === "processing") {
    return refuse("wrong_state", `job "${job.id}" was not claimed from that record`);
  }
  return { ok: true, job: input.before };
}

/** processing → processing with a later lease end, only for the holder of the lease. */
export function renewLease(
  job: Job,
  input: { now: Date; leaseToken: string; leaseSeconds: number },
): Transition {
  const held = checkLease(job, input.leaseToken);
  if (held) return held;
  return {
    ok: true,
    job: {
      ...job,
      lease_expires_at: leaseEnd(input.now, input.leaseSeconds),
      updated_at: input.now.toISOString(),
    },
  };
}

/**
 * processing → completed | failed | dead | cancelled | pending, as the attempt's outcome says.
 * Fenced: only the holder of the lease token may finish the job.
 */
export function finish(
  job: Job,
  input: {
    now: Date;
    leaseToken: string;
    outcome: AttemptOutcome;
    backoff: BackoffSettings;
    random?: number;
  },
): Transition {
  const held = checkLease(job, input.leaseToken);
  if (held) return held;
  return {
    ok: true,
    job: applyOutcome(job, input.now, input.outcome, input.backoff, input.random),
  };
}

/**
 * processing → failed | dead when the lease ran out: the worker is presumed lost. The lost
 * run counts; after `maxLost` lost runs the job is quarantined in the DLQ as "crashed".
 */
export function expireLease(
  job: Job,
  input: { now: Date; backoff: BackoffSettings; random?: number; maxLost?: number },
): Transition {
  if (job.state !== "processing") return refuse("wrong_state", `job "${job.id}" is ${job.state}`);
  if (job.lease_expires_at && Date.parse(job.lease_expires_at) > input.now.getTime()) {
    return refuse("lease_live", `job "${job.id}" still has a live lease`);
  }
  const lost = (job.lost ?? 0) + 1;
  const outcome: AttemptOutcome = {
    kind: "lost",
    message: `lease of worker ${job.worker_id ?? "?"} expired`,
  };
  const next = applyOutcome({ ...job, lost }, input.now, outcome, input.backoff, input.random);
  if (input.maxLost === undefined || lost < input.maxLost) return { ok: true, job: next };
  return {
    ok: true,
    job: {
      ...next,
      state: "dead",
      next_run_at: null,
      finished_at: next.updated_at,
      dead_reason: "crashed",
      last_error: `crashed: its worker was lost ${lost} times`,
    },
  };
}

/** pending|failed with a past `next_run_at` → the same state, now in the ready index. */
export function promote(job: Job, now: Date): Transition {
  if (job.state !== "pending" && job.state !== "failed") {
    return refuse("wrong_state", `job "${job.id}" is ${job.state}`);
  }
  if (job.next_run_at === null) return { ok: true, job };
  if (!isDue(job, now)) return refuse("not_due", `job "${job.id}" is not due yet`);
  return { ok: true, job: { ...job, next_run_at: null, updated_at: now.toISOString() } };
}

/** dead|cancelled → pending with attempts reset: a retry of the DLQ asked for by a person. */
export function retryFromDlq(job: Job, now: Date): Transition {
  if (job.state !== "dead" && job.state !== "cancelled") {
    return refuse(
      "wrong_state",
      `job "${job.id}" is ${job.state}; only dead or cancelled jobs can be retried`,
    );
  }
  return rerun(job, now);
}

/**
 * completed|dead|cancelled → pending with attempts reset: a person runs a finished job
 * again (`queuectl retry`). Its earlier runs stay (`runs` is not reset); the new run starts
 * clean: the old run's error and exit code stay in its attempt record only.
 */
export function rerun(job: Job, now: Date): Transition {
  if (!FINAL_STATES.includes(job.state)) {
    return refuse(
      "wrong_state",
      `job "${job.id}" is ${job.state}; only completed, dead or cancelled jobs can run again`,
    );
  }
  return {
    ok: true,
    job: {
      ...job,
      state: "pending",
      attempts: 0,
      lost: 0,
      dead_reason: null,
      last_error: null,
      exit_code: null,
      waiting_on: [],
      next_run_at: null,
      finished_at: null,
      updated_at: now.toISOString(),
    },
  };
}

/** The `last_error` of a job cancelled because its dependency `parent` ended badly. */
export function cascadeError(parent: { id: string; state: JobState }): string {
  return `dependency "${parent.id}" ended ${parent.state}`;
}

/** The dependency whose bad end cancelled this job (a cascade), or null. */
export function cascadeParent(job: Job): string | null {
  if (job.state !== "cancelled" || job.after_any) return null;
  const match = /^dependency "(.+)" ended (?:dead|cancelled)$/.exec(job.last_error ?? "");
  return match && job.after.includes(match[1]) ? match[1] : null;
}

/**
 * cancelled by a cascade from `parent` → pending, waiting again for `waitingOn` (its
 * dependencies that are not finished, `parent` among them): the parent runs again.
 */
export function restoreDependent(
  job: Job,
  input: { parent: string; waitingOn: string[]; now: Date },
): Transition {
  if (cascadeParent(job) !== input.parent) {
    return refuse("wrong_state", `job "${job.id}" was not cancelled by "${input.parent}"`);
  }
  return {
    ok: true,
    job: {
      ...job,
      state: "pending",
      waiting_on: input.waitingOn,
      last_error: null,
      next_run_at: null,
      finished_at: null,
      updated_at: input.now.toISOString(),
    },
  };
}

/** What `queuectl edit` may change on a waiting job. */
export interface JobEdit {
  command?: string;
  priority?: number;
  /** Not before this time; null: as soon as possible. */
  run_at?: Date | null;
  queue?: string;
  /** Null removes the label. */
  label?: string | null;
}

/** pending|failed → the same state with a new command, priority, run time, queue or label. */
export function edit(job: Job, patch: JobEdit, now: Date): Transition {
  if (job.state !== "pending" && job.state !== "failed") {
    return refuse(
      "wrong_state",
      `job "${job.id}" is ${job.state}; only a waiting (pending or failed) job can be edited`,
    );
  }
  const next: Job = { ...job, updated_at: now.toISOString() };
  if (patch.command !== undefined) next.command = patch.command;
  if (patch.priority !== undefined) next.priority = patch.priority;
  if (patch.queue !== undefined) next.queue = patch.queue;
  if (patch.label !== undefined) next.label = patch.label;
  if (patch.run_at !== undefined) {
    next.next_run_at = patch.run_at && patch.run_at.getTime() > now.getTime()
      ? patch.run_at.toISOString()
      : null;
  }
  return { ok: true, job: next };
}

/**
 * A dependency of `job` reached a final state: drop it from `waiting_on`. A dependency that
 * did not complete cancels the job, unless it runs `after_any`.
 */
export function releaseDependency(
  job: Job,
  parent: { id: string; state: JobState },
  now: Date,
): Transition {
  if (job.state !== "pending" || !(job.waiting_on ?? []).includes(parent.id)) {
    return refuse("wrong_state", `job "${job.id}" does not wait for "${parent.id}"`);
  }
  const at = now.toISOString();
  if (parent.state !== "completed" && !job.after_any) {
    return {
      ok: true,
      job: {
        ...job,
        state: "cancelled",
        waiting_on: [],
        next_run_at: null,
        last_error: cascadeError(parent),
        finished_at: at,
        updated_at: at,
      },
    };
  }
  return {
    ok: true,
    job: { ...job, waiting_on: job.waiting_on.filter((id) => id !== parent.id), updated_at: at },
  };
}

/** pending|failed → cancelled: the job will not run (again). */
export function cancel(job: Job, now: Date): Transition {
  if (job.state !== "pending" && job.state !== "failed") {
    return refuse("wrong_state", `job "${job.id}" is ${job.state}`);
  }
  const at = now.toISOString();
  return {
    ok: true,
    job: {
      ...job,
      state: "cancelled",
      next_run_at: null,
      waiting_on: [],
      last_error: "cancelled before it ran",
      finished_at: at,
      updated_at: at,
    },
  };
}

function applyOutcome(
  job: Job,
  now: Date,
  outcome: AttemptOutcome,
  backoff: BackoffSettings,
  random = 0,
): Job {
  const at = now.toISOString();
  const base: Job = {
    ...job,
    worker_id: null,
    lease_token: null,
    lease_expires_at: null,
    updated_at: at,
    exit_code: outcomeExitCode(outcome),
    last_error: outcomeError(outcome),
  };
  if (outcome.kind === "exited" && outcome.code === 0) {
    return { ...base, state: "completed", finished_at: at };
  }
  if (outcome.kind === "cancelled") return { ...base, state: "cancelled", finished_at: at };
  if (outcome.kind === "stopped") {
    // A forced stop interrupts the run; it does not count against the job's retries.
    return {
      ...base,
      state: "pending",
      attempts: Math.max(0, job.attempts - 1),
      next_run_at: null,
    };
  }
  const dead = (reason: DeadReason, note?: string): Job => ({
    ...base,
    state: "dead",
    finished_at: at,
    dead_reason: reason,
    last_error: note ? `${base.last_error} (${note})` : base.last_error,
  });
  if (outcome.kind === "exited") {
    if (job.fail_fast_on?.includes(outcome.code)) {
      return dead("fail_fast", "fail-fast: not retried");
    }
    if (job.retry_on && !job.retry_on.includes(outcome.code)) {
      return dead("fail_fast", "not in retry_on: not retried");
    }
  }
  if (job.attempts >= job.max_retries + 1) return dead("failed");
  return {
    ...base,
    state: "failed",
    next_run_at: nextRunAt(now, job.attempts, backoff, random).toISOString(),
  };
}

function checkLease(job: Job, token: string): Transition | null {
  if (job.state !== "processing") return refuse("wrong_state", `job "${job.id}" is ${job.state}`);
  if (job.lease_token !== token) {
    return refuse("lease_mismatch", `job "${job.id}" is held by another lease`);
  }
  return null;
}

function leaseEnd(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}
