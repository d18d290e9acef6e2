/**
 * The dashboard's JSON API over the store: status, job pages, one job with its attempts,
 * and the DLQ actions (retry, remove, retry all). Each function returns plain data or
 * throws an ApiError carrying the HTTP status and a one-line message.
 * @module
 */
import { type Attempt, FINAL_STATES, type Job, JOB_STATES, type JobState } from "../job.ts";
import type { Paths } from "../paths.ts";
import { validateJobId } from "../job_spec.ts";
import { edit } from "../state_machine.ts";
import { EDITABLE_FIELDS, editPatch } from "../job_edit.ts";
import { UsageError } from "../errors.ts";
import { jobRerun } from "../store/rerun.ts";
import { jobEditCommit } from "../store/edit.ts";
import { type Counts, countsGet } from "../store/counts.ts";
import { jobPage, type JobPosition } from "../store/job_page.ts";
import { attemptList, jobGet } from "../store/jobs.ts";
import { deadJobsEach, jobRetry } from "../store/dlq.ts";
import { jobRemove } from "../store/purge.ts";
import { rescue } from "../store/rescue.ts";
import { statsRead } from "../store/stats.ts";
import { workersView, type WorkerView } from "../supervisor.ts";
import { type ScheduleView, scheduleViews } from "../store/schedule_views.ts";

/** A refusal with its HTTP status; the message is sent as `{"error": message}`. */
export class ApiError extends Error {
  override name = "ApiError";
  /** The HTTP status to answer with. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Default and largest page size of `GET /api/jobs`. */
export const PAGE_LIMIT = { default: 50, max: 500 };
/** Minutes of history in the status chart. */
export const CHART_MINUTES = 60;

/** `GET /api/status`: the shape of `status --json` plus the time and the chart data. */
export interface StatusBody {
  counts: Counts;
  workers: WorkerView[];
  now: string;
  throughput: {
    since: string;
    until: string;
    completed_per_minute: number;
    minutes: { minute: string; completed: number; failed: number; dead: number }[];
  };
}

/** `GET /api/jobs`: one page, newest first. */
export interface JobsBody {
  jobs: Job[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
  /** Jobs in the chosen state (or all jobs), from the counters. */
  total: number;
}

/** Returns lapsed leases and due jobs to where they belong, so what is shown is true. */
export async function settle(kv: Deno.Kv, now: Date): Promise<void> {
  await rescue(kv, { now });
}

/** Counts, live workers with their jobs, and per-minute throughput over the last hour. */
export async function apiStatus(
  kv: Deno.Kv,
  options: { host: string; now: Date },
): Promise<StatusBody> {
  const { now } = options;
  await settle(kv, now);
  const since = new Date(now.getTime() - CHART_MINUTES * 60_000);
  const stats = await statsRead(kv, { since, now });
  return {
    counts: await countsGet(kv),
    workers: await workersView(kv, options.host),
    now: now.toISOString(),
    throughput: {
      since: stats.since,
      until: stats.until,
      completed_per_minute: stats.completed_per_minute,
      minutes: stats.minutes.map((m) => ({
        minute: m.minute,
        completed: m.completed,
        failed: m.failed,
        dead: m.dead,
      })),
    },
  };
}

/** The cursor text of a position: `<seq>-<id>`. */
export function cursorFormat(position: JobPosition): string {
  return `${position.seq}-${position.id}`;
}

/** Parses a cursor made by cursorFormat, or throws a 400. */
export function cursorParse(raw: string): JobPosition {
  const match = /^(\d{1,17})-(.+)$/.exec(raw);
  const bad = () =>
    new ApiError(400, `Invalid cursor "${raw}": expected the next_cursor of a previous page`);
  if (!match || !Number.isSafeInteger(Number(match[1]))) throw bad();
  try {
    validateJobId(match[2]);
  } catch {
    throw bad();
  }
  return { seq: Number(match[1]), id: match[2] };
}

/** `GET /api/jobs?state=&limit=&cursor=`: a page of jobs, newest first. */
export async function apiJobs(kv: Deno.Kv, query: URLSearchParams): Promise<JobsBody> {
  const rawState = query.get("state") ?? "";
  let state: JobState | undefined;
  if (rawState !== "" && rawState !== "all") {
    if (!(JOB_STATES as readonly string[]).includes(rawState)) {
      throw new ApiError(
        400,
        `Unknown state "${rawState}": expected one of ${JOB_STATES.join(", ")} or all`,
      );
    }
    state = rawState as JobState;
  }
  const rawLimit = query.get("limit") ?? String(PAGE_LIMIT.default);
  const limit = /^\d{1,6}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!(limit >= 1 && limit <= PAGE_LIMIT.max)) {
    throw new ApiError(
      400,
      `Invalid limit "${rawLimit}": expected an integer from 1 to ${PAGE_LIMIT.max}`,
    );
  }
  const rawCursor = query.get("cursor");
  const after = rawCursor ? cursorParse(rawCursor) : null;
  const page = await jobPage(kv, { state, limit, after });
  const counts = await countsGet(kv);
  return {
    jobs: page.jobs,
    next_cursor: page.next ? cursorFormat(page.next) : null,
    total: state ? counts[state] : JOB_STATES.reduce((n, s) => n + counts[s], 0),
  };
}

/** `GET /api/schedules`: every schedule with its next tick, counts and last job's state. */
export async function apiSchedules(kv: Deno.Kv): Promise<{ schedules: ScheduleView[] }> {
  return { schedules: await scheduleViews(kv) };
}

/** `GET /api/jobs/:id`: the job record with `history`, its attempts (as `show --json`). */
export async function apiJob(kv: Deno.Kv, id: string): Promise<Job & { history: Attempt[] }> {
  const entry = await jobGet(kv, checkId(id));
  if (!entry) throw notFound(id);
  return { ...entry.job, history: await attemptList(kv, id) };
}

/**
 * `POST /api/jobs/:id/retry`: a completed, dead or cancelled job back to pending, attempts
 * reset, and the jobs its bad end had cancelled back to waiting (as `queuectl retry`).
 */
export async function apiRetry(
  kv: Deno.Kv,
  id: string,
): Promise<{ id: string; job: Job; restored: string[] }> {
  checkId(id);
  const result = await jobRerun(kv, id, new Date());
  switch (result.kind) {
    case "rerun":
      return { id, job: result.job, restored: result.restored };
    case "not_found":
      throw notFound(id);
    case "wrong_state":
      throw new ApiError(
        409,
        `Job "${id}" is ${result.state}: only completed, dead or cancelled jobs can run again`,
      );
    case "unique_taken":
      throw new ApiError(
        409,
        `Job "${id}" cannot run again: its unique key "${result.key}" is held by unfinished job "${result.holder}"`,
      );
  }
}

/**
 * `PATCH /api/jobs/:id` with a JSON object of `command`, `priority`, `run_at`, `queue`,
 * `label`: changes a waiting job (as `queuectl edit`), in one commit checked as read.
 */
export async function apiEdit(kv: Deno.Kv, id: string, body: unknown): Promise<{ job: Job }> {
  checkId(id);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(
      400,
      `Invalid body: expected a JSON object of ${EDITABLE_FIELDS.join(", ")}`,
    );
  }
  for (let tries = 0; tries < 5; tries++) {
    const entry = await jobGet(kv, id);
    if (!entry) throw notFound(id);
    let patch;
    try {
      patch = editPatch(entry.job, { command: entry.job.command, ...body }, "body");
    } catch (error) {
      if (error instanceof UsageError) throw new ApiError(400, error.message);
      throw error;
    }
    const next = edit(entry.job, patch, new Date());
    if (!next.ok) {
      throw new ApiError(
        409,
        `Job "${id}" is ${entry.job.state}: only a waiting (pending or failed) job can be edited`,
      );
    }
    if (await jobEditCommit(kv, entry, next.job)) return { job: next.job };
  }
  throw new ApiError(409, `Job "${id}" kept changing; try again`);
}

/** `DELETE /api/jobs/:id`: deletes a finished job with its attempts and logs. */
export async function apiRemove(
  kv: Deno.Kv,
  paths: Paths,
  id: string,
): Promise<{ id: string; removed: true }> {
  checkId(id);
  for (let tries = 0; tries < 5; tries++) {
    const entry = await jobGet(kv, id);
    if (!entry) throw notFound(id);
    if (!FINAL_STATES.includes(entry.job.state)) {
      throw new ApiError(
        409,
        `Job "${id}" is ${entry.job.state}: only ${
          FINAL_STATES.join(", ")
        } jobs can be removed (cancel it first)`,
      );
    }
    if (await jobRemove(kv, paths, entry)) return { id, removed: true };
  }
  throw new ApiError(409, `Job "${id}" kept changing; try again`);
}

/** `POST /api/dlq/retry-all`: every dead job back to pending, one commit per job. */
export async function apiRetryAll(kv: Deno.Kv): Promise<{ retried: string[] }> {
  return { retried: await deadJobsEach(kv, (entry) => jobRetry(kv, entry, new Date())) };
}

function checkId(id: string): string {
  try {
    return validateJobId(id);
  } catch (error) {
    throw new ApiError(400, (error as Error).message);
  }
}

function notFound(id: string): ApiError {
  return new ApiError(404, `No job with id "${id}"`);
}
