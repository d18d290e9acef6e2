/**
 * The columns of job listings and the `--format` template, by name (pure). On a terminal
 * cells are short and times relative; piped, cells are whole and times are ISO 8601, so a
 * script reads the same columns whatever the data.
 * @module
 */
import { UsageError } from "../errors.ts";
import { type Job, JOB_FIELDS, runNumber } from "../job.ts";
import { formatRelative, truncate } from "./text.ts";

/** How a cell is written: for a person at a terminal, or for a script. */
export interface CellStyle {
  terminal: boolean;
  now: Date;
}

type Cell = (job: Job, style: CellStyle) => string;

/** The named columns of `list` (each also a `--format` field). */
const COLUMNS: Record<string, Cell> = {
  id: (j) => j.id,
  state: (j) => j.state,
  runs: (j) => runsCell(j),
  command: (j, s) => s.terminal ? truncate(j.command, 40) : j.command,
  label: (j, s) => s.terminal ? truncate(j.label ?? "", 20) : j.label ?? "",
  schedule: (j) => j.schedule ?? "",
  updated: (j, s) => s.terminal ? formatRelative(j.updated_at, s.now) : j.updated_at,
  note: (j, s) => s.terminal ? truncate(jobNote(j, s), 40) : jobNote(j, s),
};

/**
 * The columns `list` shows by default, in order. On a terminal LABEL and SCHEDULE show only
 * when a job listed has one; piped, every column is always there.
 */
export const DEFAULT_COLUMNS = [
  "id",
  "state",
  "runs",
  "command",
  "label",
  "schedule",
  "updated",
  "note",
];

/** Columns a terminal shows only when a job listed has a value for them. */
const SPARSE_COLUMNS: (keyof Job)[] = ["label", "schedule"];

/** The default columns for these jobs: all of them piped, the sparse ones only when used. */
export function defaultColumns(jobs: Job[], terminal: boolean): string[] {
  return DEFAULT_COLUMNS.filter((c) =>
    !terminal || !(SPARSE_COLUMNS as string[]).includes(c) ||
    jobs.some((j) => j[c as keyof Job])
  );
}

/**
 * The RUNS cell: runs counted against the limit, of the most allowed; after a retry by a
 * person (attempts reset), also every run of the job's life, as `show` lists them.
 */
export function runsCell(job: Job): string {
  const counted = `${job.attempts}/${job.max_retries + 1}`;
  const all = runNumber(job);
  return all === job.attempts ? counted : `${counted} (${all} in all)`;
}

function jobNote(job: Job, style: CellStyle): string {
  if (job.state === "pending" && (job.waiting_on?.length ?? 0) > 0) {
    return `after ${job.waiting_on.join(", ")}`;
  }
  if (job.next_run_at) {
    const verb = job.state === "failed" ? "retry" : "runs";
    return style.terminal
      ? `${verb} ${formatRelative(job.next_run_at, style.now)}`
      : `${verb} at ${job.next_run_at}`;
  }
  if (job.state === "processing") return `on ${job.worker_id}`;
  return job.last_error ?? "";
}

/** Every name a column or a `--format` field may have: the columns, then the job's fields. */
export const FIELD_NAMES: string[] = [...new Set([...Object.keys(COLUMNS), ...JOB_FIELDS])];

/** One field of a job as text: a named column, or a job field (lists comma-joined). */
export function fieldText(job: Job, name: string, style: CellStyle): string {
  if (Object.hasOwn(COLUMNS, name)) return COLUMNS[name](job, style);
  const value = (job as unknown as Record<string, unknown>)[name];
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Checks `--columns a,b,c` against the known names; returns them lower-cased, in order. */
export function parseColumns(raw: string, known: string[]): string[] {
  const names = raw.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
  if (names.length === 0) throw new UsageError(`Invalid --columns "${raw}": expected column names`);
  for (const name of names) {
    if (!known.includes(name)) {
      throw new UsageError(`Unknown column "${name}": expected some of ${known.join(", ")}`);
    }
  }
  return names;
}

/**
 * Fills a `--format` template, `{{.id}} {{.state}}`, for one job; `\t` and `\n` in the
 * template stand for a tab and a line break. Fields are checked by `checkTemplate`.
 */
export function renderTemplate(template: string, job: Job, style: CellStyle): string {
  return unescape(template).replace(
    /\{\{\s*\.([A-Za-z_]+)\s*\}\}/g,
    (_, name: string) => fieldText(job, name, style),
  );
}

/** Checks that every field a template names is known (a typo is a usage error). */
export function checkTemplate(template: string, known: string[]): void {
  const names = [...template.matchAll(/\{\{\s*\.([A-Za-z_]+)\s*\}\}/g)].map((m) => m[1]);
  if (names.length === 0) {
    throw new UsageError(
      `Invalid --format "${template}": expected fields such as {{.id}} {{.state}}`,
    );
  }
  const unknown = names.find((n) => !known.includes(n));
  if (unknown !== undefined) {
    throw new UsageError(`Unknown field "${unknown}" in --format: expected ${known.join(", ")}`);
  }
}

function unescape(template: string): string {
  return template.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
}
