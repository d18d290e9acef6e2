/**
 * User input to a validated new job: parsing and checking a job spec (pure).
 * @module
 */
import { UsageError } from "./errors.ts";
import { type Job, JOB_FIELDS } from "./job.ts";
import { type Config, MAX_RETRIES, MAX_TIMEOUT_SECONDS } from "./config.ts";
import { parseDuration } from "./duration.ts";
import { parseIsoTime } from "./iso_time.ts";

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
  label?: string;
  unique_key?: string;
  /** Ids of jobs that must finish (complete, unless `after_any`) before this one runs. */
  after?: string[];
  after_any?: boolean;
  retry_on?: number[];
  fail_fast_on?: number[];
  /** Absolute directory the command runs in (default: where it was enqueued). */
  cwd?: string;
  /** Variables added to the command's environment. */
  env?: Record<string, string>;
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
  "label",
  "unique_key",
  "after",
  "after_any",
  "retry_on",
  "fail_fast_on",
  "cwd",
  "env",
];
/**
 * Fields of a stored record (`show --json`, `enqueue --validate`) accepted so that a
 * waiting job's record enqueues back as it was; only `state` and `attempts` are checked
 * (a new job starts pending), and a future `next_run_at` stands for `run_at`. `history` is
 * what `show --json` adds.
 */
const PASTED_FIELDS: string[] = [
  ...JOB_FIELDS.filter((f) => !SPEC_FIELDS.includes(f)),
  "history",
];
/** The most variables `env` may hold, and the most bytes of names and values together. */
const MAX_ENV = { entries: 100, bytes: 16 * 1024 };

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const QUEUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_COMMAND_BYTES = 16 * 1024;
/** The longest delay a job may be given, in seconds (100 years). */
export const MAX_DELAY_SECONDS = 100 * 365 * 24 * 3600;

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
  // A null optional field is absent (a record prints `"label": null`); command stays checked.
  const input = Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(([k, v]) =>
      v !== null || k === "command"
    ),
  );
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
    if (input[field] !== undefined) isoTimeField(input[field], (e) => bad(field, e));
  }
  const command = input.command;
  if (typeof command !== "string" || command.trim() === "") {
    throw bad("command", "a non-empty string");
  }
  if (new TextEncoder().encode(command).length > MAX_COMMAND_BYTES) {
    throw new UsageError(`Invalid ${where}: "command" is longer than ${MAX_COMMAND_BYTES} bytes`);
  }
  if (command.includes("\0")) {
    throw new UsageError(`Invalid ${where}: "command" contains a NUL character`);
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
      () => bad("max_retries", `an integer from 0 to ${MAX_RETRIES}`),
    );
  }
  if (input.priority !== undefined) {
    spec.priority = integerField(
      input.priority,
      -1e9,
      () => bad("priority", "an integer from -1000000000 to 1000000000"),
    );
  }
  if (input.timeout !== undefined) {
    // Seconds, or a duration in the grammar of options and config ("10m").
    const t = typeof input.timeout === "string" && /^\s*\d/.test(input.timeout)
      ? parseDuration(input.timeout, `${where} "timeout"`)
      : input.timeout;
    if (typeof t !== "number" || !Number.isFinite(t) || t <= 0 || t > MAX_TIMEOUT_SECONDS) {
      throw bad("timeout", `a duration > 0 and <= ${MAX_TIMEOUT_SECONDS} seconds (600, "10m")`);
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
    spec.run_at = isoTimeField(input.run_at, (e) => bad("run_at", e));
  }
  if (input.delay !== undefined) {
    if (typeof input.delay !== "string" && typeof input.delay !== "number") {
      throw bad("delay", 'a duration such as "30s" or a number of seconds');
    }
    spec.delay = checkDelay(parseDuration(input.delay, `${where} "delay"`), `${where} "delay"`);
  }
  if (spec.run_at && spec.delay !== undefined) {
    throw new UsageError(`Invalid ${where}: give "run_at" or "delay", not both`);
  }
  if (input.label !== undefined) {
    if (typeof input.label !== "string" || input.label.length > 200) {
      throw bad("label", "a string of at most 200 characters");
    }
    spec.label = input.label;
  }
  if (input.unique_key !== undefined) {
    if (typeof input.unique_key !== "string" || input.unique_key === "") {
      throw bad("unique_key", "a non-empty string");
    }
    if (input.unique_key.length > 512) throw bad("unique_key", "at most 512 characters");
    spec.unique_key = input.unique_key;
  }
  if (input.after !== undefined) {
    const after = typeof input.after === "string" ? [input.after] : input.after;
    if (!Array.isArray(after) || after.some((a) => typeof a !== "string")) {
      throw bad("after", "a job id or an array of job ids");
    }
    const ids = [...new Set(after as string[])].map(validateJobId);
    if (ids.length > MAX_AFTER) throw bad("after", `at most ${MAX_AFTER} job ids`);
    if (spec.id && ids.includes(spec.id)) throw bad("after", "ids other than the job's own");
    spec.after = ids;
  }
  if (input.after_any !== undefined) {
    if (typeof input.after_any !== "boolean") throw bad("after_any", "true or false");
    spec.after_any = input.after_any;
  }
  if (input.cwd !== undefined) {
    const cwd = input.cwd;
    if (
      typeof cwd !== "string" || !cwd.startsWith("/") || cwd.length > 4096 || cwd.includes("\0")
    ) {
      throw bad("cwd", "an absolute directory path");
    }
    spec.cwd = cwd;
  }
  if (input.env !== undefined) spec.env = parseEnv(input.env, () => bad("env", ENV_EXPECTED));
  if (
    input.next_run_at !== undefined && input.next_run_at !== null && spec.run_at === undefined &&
    spec.delay === undefined
  ) {
    spec.run_at = isoTimeField(input.next_run_at, (e) => bad("next_run_at", e));
  }
  for (const field of ["retry_on", "fail_fast_on"] as const) {
    if (input[field] === undefined) continue;
    spec[field] = parseExitCodes(input[field], () => bad(field, "a list of exit codes 1-255"));
  }
  return spec;
}

const ENV_EXPECTED = 'an object of names to strings such as {"LANG":"C"}';

/** Checks a job's environment variables: names of letters, digits and `_`, string values. */
export function parseEnv(value: unknown, error: () => UsageError): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw error();
  const entries = Object.entries(value as Record<string, unknown>);
  let bytes = 0;
  for (const [name, text] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw error();
    if (typeof text !== "string" || text.includes("\0")) throw error();
    bytes += name.length + text.length;
  }
  if (entries.length > MAX_ENV.entries || bytes > MAX_ENV.bytes) throw error();
  return Object.fromEntries(entries) as Record<string, string>;
}

/** The most dependencies one job may have (one atomic commit checks each of them). */
export const MAX_AFTER = 50;

/** Parses a list of exit codes (1–255) given as an array or a comma-separated string. */
export function parseExitCodes(value: unknown, error: () => UsageError): number[] {
  const list = typeof value === "string"
    ? value.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number)
    : value;
  if (!Array.isArray(list) || list.length === 0) throw error();
  for (const code of list) {
    if (typeof code !== "number" || !Number.isInteger(code) || code < 1 || code > 255) {
      throw error();
    }
  }
  return [...new Set(list as number[])].sort((a, b) => a - b);
}

/** Checks that a delay in seconds is at most MAX_DELAY_SECONDS, naming `what` if not. */
export function checkDelay(seconds: number, what: string): number {
  if (seconds > MAX_DELAY_SECONDS) {
    throw new UsageError(
      `Invalid ${what}: ${seconds} seconds is longer than the limit of ${MAX_DELAY_SECONDS} (100 years)`,
    );
  }
  return seconds;
}

function integerField(value: unknown, min: number, error: () => UsageError): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 1e9) {
    throw error();
  }
  return value;
}

/** Reads a date field: not an ISO-8601 string, or a day its month lacks, throws `bad(expected)`. */
function isoTimeField(value: unknown, bad: (expected: string) => UsageError): Date {
  const parsed = typeof value === "string" ? parseIsoTime(value) : { kind: "malformed" as const };
  if (parsed.kind === "time") return parsed.date;
  if (parsed.kind === "malformed") throw bad("an ISO-8601 time");
  throw bad(`a day that exists (${parsed.why})`);
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
    runs: 0,
    max_retries: spec.max_retries ?? ctx.config["max-retries"],
    created_at: now,
    updated_at: now,
    cwd: spec.cwd ?? ctx.cwd,
    ...(spec.env ? { env: spec.env } : {}),
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
    label: spec.label ?? null,
    unique_key: spec.unique_key ?? null,
    after: spec.after ?? [],
    after_any: spec.after_any ?? false,
    waiting_on: spec.after ?? [],
    retry_on: spec.retry_on ?? null,
    fail_fast_on: spec.fail_fast_on ?? null,
    lost: 0,
    dead_reason: null,
  };
}
