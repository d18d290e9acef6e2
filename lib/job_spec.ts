/**
 * User input to a validated new job: parsing and checking a job spec (pure).
 * @module
 */
import { UsageError } from "./errors.ts";
import type { Job } from "./job.ts";
import type { Config } from "./config.ts";
import { parseDuration } from "./duration.ts";

/** A validated job spec: what a user may say about a new job. */
export interface JobSpec {
  id?: string;
  command: string;
  max_retries?: number;
  priority?: number;
  timeout?: number;
  queue?: string;
  /** Absolute time before which the job must not run. */
  run_at?: Date;
  /** Seconds from enqueue before the job may run. */
  delay?: number;
}

/** Fields a spec may carry; record fields people paste from other tools are accepted too. */
const SPEC_FIELDS = [
  "id",
  "command",
  "max_retries",
  "priority",
  "timeout",
  "queue",
  "run_at",
  "delay",
];
const PASTED_FIELDS = ["state", "attempts", "created_at", "updated_at"];

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const QUEUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_COMMAND_BYTES = 16 * 1024;

/** Checks a job id, throwing a UsageError that says what an id may contain. */
export function validateJobId(id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new UsageError(
      `Invalid job id "${id}": expected 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
    );
  }
  return id;
}

/** Parses one job given as JSON text. */
export function parseJobJson(text: string, where = "job spec"): JobSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new UsageError(`Invalid JSON in ${where}: ${why}`);
  }
  return parseJobSpec(value, where);
}

/** Validates a parsed JSON value as a job spec. */
export function parseJobSpec(value: unknown, where = "job spec"): JobSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`Invalid ${where}: expected a JSON object such as {"command":"echo hi"}`);
  }
  const input = value as Record<string, unknown>;
  const bad = (field: string, expected: string) =>
    new UsageError(
      `Invalid ${where}: "${field}" must be ${expected}, got ${JSON.stringify(input[field])}`,
    );
  for (const field of Object.keys(input)) {
    if (!SPEC_FIELDS.includes(field) && !PASTED_FIELDS.includes(field)) {
      throw new UsageError(
        `Invalid ${where}: unknown field "${field}"; expected ${SPEC_FIELDS.join(", ")}`,
      );
    }
  }
  if (input.state !== undefined && input.state !== "pending") throw bad("state", `"pending"`);
  if (input.attempts !== undefined && input.attempts !== 0) throw bad("attempts", "0");
  for (const field of ["created_at", "updated_at"]) {
    if (input[field] !== undefined && !isIsoDate(input[field])) {
      throw bad(field, "an ISO-8601 time");
    }
  }
  const command = input.command;
  if (typeof command !== "string" || command.trim() === "") {
    throw bad("command", "a non-empty string");
  }
  if (new TextEncoder().encode(command).length > MAX_COMMAND_BYTES) {
    throw new UsageError(`Invalid ${where}: "command" is longer than ${MAX_COMMAND_BYTES} bytes`);
  }
  const spec: JobSpec = { command };
  if (input.id !== undefined) {
    if (typeof input.id !== "string") throw bad("id", "a string");
    spec.id = validateJobId(input.id);
  }
  if (input.max_retries !== undefined) {
    spec.max_retries = integerField(
      input.max_retries,
      0,
      () => bad("max_retries", "an integer >= 0"),
    );
  }
  if (input.priority !== undefined) {
    spec.priority = integerField(input.priority, -1e9, () => bad("priority", "an integer"));
  }
  if (input.timeout !== undefined) {
    const t = input.timeout;
    if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) {
      throw bad("timeout", "a number of seconds > 0");
    }
    spec.timeout = t;
  }
  if (input.queue !== undefined) {
    if (typeof input.queue !== "string" || !QUEUE_PATTERN.test(input.queue)) {
      throw bad("queue", "a name of letters, digits, '.', '_' or '-'");
    }
    spec.queue = input.queue;
  }
  if (input.run_at !== undefined) {
    if (!isIsoDate(input.run_at)) throw bad("run_at", "an ISO-8601 time");
    spec.run_at = new Date(input.run_at as string);
  }
  if (input.delay !== undefined) {
    if (typeof input.delay !== "string" && typeof input.delay !== "number") {
      throw bad("delay", 'a duration such as "30s" or a number of seconds');
    }
    spec.delay = parseDuration(input.delay, `${where} "delay"`);
  }
  if (spec.run_at && spec.delay !== undefined) {
    throw new UsageError(`Invalid ${where}: give "run_at" or "delay", not both`);
  }
  return spec;
}

function integerField(value: unknown, min: number, error: () => UsageError): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 1e9) {
    throw error();
  }
  return value;
}

function isIsoDate(value: unknown): boolean {
  return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) &&
    !Number.isNaN(Date.parse(value));
}

/** What a new job needs besides its spec. */
export interface NewJobContext {
  id: string;
  now: Date;
  seq: number;
  cwd: string;
  config: Config;
}

/** Builds the stored record of a new job from its spec. */
export function newJob(spec: JobSpec, ctx: NewJobContext): Job {
  const now = ctx.now.toISOString();
  let runAt: Date | null = null;
  if (spec.run_at) runAt = spec.run_at;
  else if (spec.delay) runAt = new Date(ctx.now.getTime() + spec.delay * 1000);
  const timeout = spec.timeout ?? (ctx.config["job-timeout"] || null);
  return {
    id: spec.id ?? ctx.id,
    command: spec.command,
    state: "pending",
    attempts: 0,
    max_retries: spec.max_retries ?? ctx.config["max-retries"],
    created_at: now,
    updated_at: now,
    cwd: ctx.cwd,
    queue: spec.queue ?? "default",
    priority: spec.priority ?? 0,
    timeout,
    next_run_at: runAt && runAt.getTime() > ctx.now.getTime() ? runAt.toISOString() : null,
    seq: ctx.seq,
    last_error: null,
    exit_code: null,
    worker_id: null,
    lease_token: null,
    lease_expires_at: null,
    started_at: null,
    finished_at: null,
  };
}
