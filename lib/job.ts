/**
 * The job record, its closed set of states and the record of one attempt.
 * @module
 */

/** Every state a job can be in; see the state diagram in the README. */
export const JOB_STATES = [
  "pending",
  "processing",
  "completed",
  "failed",
  "dead",
  "cancelled",
] as const;

/** A job's state. */
export type JobState = typeof JOB_STATES[number];

/** States a worker may claim a job from (once its `next_run_at` has passed). */
export const RUNNABLE_STATES: readonly JobState[] = ["pending", "failed"];

/** States a job never leaves on its own. */
export const FINAL_STATES: readonly JobState[] = ["completed", "dead", "cancelled"];

/** Reports whether `value` names a job state. */
export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

/** A job as stored: field names are snake_case like the job spec and the `--json` output. */
export interface Job {
  id: string;
  command: string;
  state: JobState;
  /** Runs counted against `max_retries` (a lost run counts); a DLQ retry resets it to 0. */
  attempts: number;
  /**
   * Runs started over the job's whole life, never reset (a stopped or retried-from-DLQ run
   * counts too): the number of its latest attempt record and log files, so none is overwritten.
   */
  runs: number;
  /** Retries allowed after the first run: the job runs at most `max_retries + 1` times. */
  max_retries: number;
  created_at: string;
  updated_at: string;
  /** Directory the command runs in: where it was enqueued, unless the spec named one. */
  cwd: string;
  /** Variables added to the command's environment (absent: none). */
  env?: Record<string, string>;
  queue: string;
  /** Higher runs first; equal priorities run in enqueue order. */
  priority: number;
  /** Seconds an attempt may run before it is killed; null for no limit. */
  timeout: number | null;
  /** Not to be run before this time (a delayed job or a retry waiting out its backoff). */
  next_run_at: string | null;
  /** Enqueue order: a number that grows with time, used to keep FIFO order. */
  seq: number;
  last_error: string | null;
  exit_code: number | null;
  /** The worker holding the job while it is `processing`. */
  worker_id: string | null;
  lease_token: string | null;
  lease_expires_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** Free text shown in lists and filterable. */
  label: string | null;
  /** While this job is unfinished, no other job can be enqueued with the same key. */
  unique_key: string | null;
  /** Ids of the jobs this one runs after. */
  after: string[];
  /** Run once the dependencies have finished whatever their outcome (not only completed). */
  after_any: boolean;
  /** Dependencies not finished yet: the job waits (state pending, "blocked") while any remain. */
  waiting_on: string[];
  /** Exit codes worth a retry; any other non-zero exit goes to the DLQ. Null: retry all. */
  retry_on: number[] | null;
  /** Exit codes that go straight to the DLQ without retries. */
  fail_fast_on: number[] | null;
  /** Runs whose worker was lost (lease expired); `max-lost` of them quarantine the job. */
  lost: number;
  /** Why a dead job is dead: out of retries, a fail-fast exit code, or crash-looping. */
  dead_reason: DeadReason | null;
  /** The schedule that fired the job; absent on jobs enqueued otherwise. */
  schedule?: string;
}

/** The fields of a job record (as `--json` spells them). */
export const JOB_FIELDS: (keyof Job)[] = [
  "id",
  "command",
  "state",
  "attempts",
  "runs",
  "max_retries",
  "created_at",
  "updated_at",
  "cwd",
  "env",
  "queue",
  "priority",
  "timeout",
  "next_run_at",
  "seq",
  "last_error",
  "exit_code",
  "worker_id",
  "lease_token",
  "lease_expires_at",
  "started_at",
  "finished_at",
  "label",
  "unique_key",
  "after",
  "after_any",
  "waiting_on",
  "retry_on",
  "fail_fast_on",
  "lost",
  "dead_reason",
  "schedule",
];

/** Why a job ended in the DLQ. */
export type DeadReason = "failed" | "fail_fast" | "crashed";

/** How one attempt ended: every way a run can end is a named value. */
export type AttemptOutcome =
  | { kind: "exited"; code: number }
  | { kind: "signaled"; signal: string }
  | { kind: "timeout"; seconds: number }
  | { kind: "spawn_failed"; message: string }
  | { kind: "lost"; message: string }
  | { kind: "stopped" }
  | { kind: "cancelled" };

/** The record of one run of a job, kept beside the job. */
export interface Attempt {
  job_id: string;
  /** The run number: the job's `runs` when it was claimed (unique over the job's life). */
  attempt: number;
  worker_id: string;
  host: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  outcome: AttemptOutcome;
  exit_code: number | null;
  error: string | null;
  /** The last bytes of the attempt's output (stdout and stderr as they came). */
  output_tail: string;
}

/** Describes an outcome as the one-line error kept in `last_error`, or null for success. */
export function outcomeError(outcome: AttemptOutcome): string | null {
  switch (outcome.kind) {
    case "exited":
      if (outcome.code === 0) return null;
      if (outcome.code === 127) return "exit code 127 (command not found)";
      return `exit code ${outcome.code}`;
    case "signaled":
      return `killed by ${outcome.signal}`;
    case "timeout":
      return `timeout: killed after ${outcome.seconds}s`;
    case "spawn_failed":
      return `could not start: ${outcome.message}`;
    case "lost":
      return `worker lost: ${outcome.message}`;
    case "stopped":
      return "stopped: worker was stopped by force";
    case "cancelled":
      return "cancelled while running";
  }
}

/**
 * The number of a job's latest run, for its attempt record and log files: `runs`, or for a
 * record stored before `runs` existed, `attempts`.
 */
export function runNumber(job: Job): number {
  return job.runs ?? job.attempts;
}

/** The exit code an outcome carries, if any. */
export function outcomeExitCode(outcome: AttemptOutcome): number | null {
  return outcome.kind === "exited" ? outcome.code : null;
}

/**
 * The record of a run that ended without its worker reporting it (a lost lease, a forced
 * stop): no exit code, no output, timed from the job's `started_at` to `now`.
 */
export function unreportedAttempt(
  job: Job,
  input: { outcome: AttemptOutcome; now: Date; workerId: string; host: string },
): Attempt {
  const started = job.started_at ?? input.now.toISOString();
  return {
    job_id: job.id,
    attempt: runNumber(job),
    worker_id: input.workerId,
    host: input.host,
    started_at: started,
    finished_at: input.now.toISOString(),
    duration_ms: Math.max(0, input.now.getTime() - Date.parse(started)),
    outcome: input.outcome,
    exit_code: null,
    error: outcomeError(input.outcome),
    output_tail: "",
  };
}
