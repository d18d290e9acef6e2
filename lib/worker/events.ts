/**
 * What a worker reports: its events (for its log and progress output), why it stopped, and
 * the summary of what it did over its life.
 * @module
 */
import type { Attempt, Job } from "../job.ts";
import type { FiringOutcome } from "../store/schedules.ts";

/** What made a worker stop: a signal, a stop request in the store, or store errors. */
export type StopSource = "signal" | "request" | "error" | "store_gone";

/** Something a worker did, for its log and for progress output. */
export type WorkerEvent =
  | { kind: "claimed"; job: Job }
  | { kind: "finished"; job: Job; attempt: Attempt }
  | { kind: "fenced"; job: Job; detail: string }
  | { kind: "stopping"; force: boolean; source: StopSource }
  | { kind: "warning"; message: string; job?: Job }
  | { kind: "schedule"; outcome: Extract<FiringOutcome, { kind: "fired" | "skipped" }> }
  | { kind: "error"; message: string }
  | { kind: "store_unavailable"; since: string; reason: string }
  | { kind: "store_back"; since: string; downMs: number }
  | { kind: "store_gone"; path: string; how: "removed" | "replaced" };

/** What a worker did over its life. */
export interface WorkerSummary {
  /** Final state of each job this worker finished, by job id (the last finish wins). */
  finished: Map<string, { job: Job; attempt: Attempt }>;
  counts: { completed: number; failed: number; dead: number; cancelled: number; requeued: number };
  /** Attempts whose output could not be written to their log file (disk full, say). */
  logErrors: number;
}

/** An empty summary. */
export function summaryNew(): WorkerSummary {
  return {
    finished: new Map(),
    counts: { completed: 0, failed: 0, dead: 0, cancelled: 0, requeued: 0 },
    logErrors: 0,
  };
}

/** Counts a finished attempt in the summary, by the state its job ended in. */
export function summaryAdd(summary: WorkerSummary, job: Job, attempt: Attempt): void {
  summary.finished.set(job.id, { job, attempt });
  const c = summary.counts;
  if (job.state === "completed") c.completed++;
  else if (job.state === "failed") c.failed++;
  else if (job.state === "dead") c.dead++;
  else if (job.state === "cancelled") c.cancelled++;
  else if (job.state === "pending") c.requeued++;
}

/** The first line of an error's message. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}
