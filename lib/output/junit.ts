/**
 * JUnit XML for CI systems: one testcase per job a worker finished, with its output tail
 * and a failure element for dead jobs. Pure: data in, a string out.
 * @module
 */
import type { Attempt, Job } from "../job.ts";

/** One job as the report sees it: its final record and its last attempt. */
export interface JunitJob {
  job: Job;
  attempt: Attempt;
  /**
   * The tails of the attempt's standard output and standard error, read from its log files;
   * when absent, the attempt's mixed output tail goes to `<system-out>`.
   */
  streams?: { stdout: string; stderr: string };
}

/** What the report says about the run as a whole. */
export interface JunitRunInfo {
  /** Name of the outer `<testsuites>` element. */
  name: string;
  /** Wall time of the whole run. */
  elapsedMs: number;
  /** When the run started (ISO-8601). */
  timestamp: string;
  hostname: string;
}

/**
 * Builds a JUnit XML report: one `<testsuite>` per queue, one `<testcase>` per job.
 * Completed jobs pass, dead jobs carry a `<failure>`, cancelled or unfinished jobs are
 * `<skipped>`; the attempt's standard output goes to `<system-out>` and its standard error
 * to `<system-err>` (or, without the streams apart, its mixed output tail to `<system-out>`).
 *
 * @example
 * ```ts
 * const xml = junitReport([], { name: "queuectl", elapsedMs: 0, timestamp: "", hostname: "ci" });
 * // xml starts with `<?xml version="1.0" encoding="UTF-8"?>`
 * ```
 */
export function junitReport(jobs: readonly JunitJob[], run: JunitRunInfo): string {
  const queues = new Map<string, JunitJob[]>();
  for (const entry of jobs) {
    const list = queues.get(entry.job.queue) ?? [];
    list.push(entry);
    queues.set(entry.job.queue, list);
  }
  const totals = tally(jobs);
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${
      attrs({
        name: run.name,
        tests: jobs.length,
        failures: totals.failures,
        errors: 0,
        skipped: totals.skipped,
        time: seconds(run.elapsedMs),
        timestamp: run.timestamp,
      })
    }>`,
  ];
  for (const [queue, entries] of [...queues].sort(([a], [b]) => a.localeCompare(b))) {
    const t = tally(entries);
    lines.push(
      `  <testsuite${
        attrs({
          name: queue,
          tests: entries.length,
          failures: t.failures,
          errors: 0,
          skipped: t.skipped,
          time: seconds(entries.reduce((sum, e) => sum + e.attempt.duration_ms, 0)),
          timestamp: run.timestamp,
          hostname: run.hostname,
        })
      }>`,
    );
    for (const entry of entries) lines.push(...testcase(entry));
    lines.push(`  </testsuite>`);
  }
  lines.push(`</testsuites>`);
  return lines.join("\n") + "\n";
}

function testcase({ job, attempt, streams }: JunitJob): string[] {
  const head = `    <testcase${
    attrs({
      name: job.id,
      classname: `queuectl.${job.queue}`,
      time: seconds(attempt.duration_ms),
    })
  }>`;
  const body: string[] = [];
  if (job.state === "dead") {
    const message = attempt.error ?? job.last_error ?? "dead";
    const detail = [
      `command: ${job.command}`,
      `attempts: ${job.attempts} of ${job.max_retries + 1}`,
      `exit code: ${job.exit_code ?? "none"}`,
      `last error: ${message}`,
    ].join("\n");
    body.push(
      `      <failure${attrs({ message, type: attempt.outcome.kind })}>${
        xmlText(detail)
      }</failure>`,
    );
  } else if (job.state !== "completed") {
    const message = job.state === "cancelled" ? "cancelled" : `not finished: ${job.state}`;
    body.push(`      <skipped${attrs({ message })}/>`);
  }
  const out = streams ? streams.stdout : attempt.output_tail;
  if (out !== "") body.push(`      <system-out>${xmlText(out)}</system-out>`);
  if (streams && streams.stderr !== "") {
    body.push(`      <system-err>${xmlText(streams.stderr)}</system-err>`);
  }
  return [head, ...body, `    </testcase>`];
}

function tally(jobs: readonly JunitJob[]): { failures: number; skipped: number } {
  let failures = 0;
  let skipped = 0;
  for (const { job } of jobs) {
    if (job.state === "dead") failures++;
    else if (job.state !== "completed") skipped++;
  }
  return { failures, skipped };
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values).map(([k, v]) => ` ${k}="${attribute(String(v))}"`).join("");
}

/** Characters XML 1.0 cannot hold at all, even as character references. */
const ILLEGAL =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Terminal colour and cursor sequences, dropped from job output. */
// deno-lint-ignore no-control-regex -- an ANSI sequence starts with ESC
const ANSI = /\u001B\[[0-?]*[ -/]*[@-~]/g;

/**
 * Makes any string safe as XML character data: markup characters become entities, ANSI
 * escape sequences are dropped, characters XML cannot carry become `#xNN` text, and a
 * carriage return is kept as `&#13;` (a parser would otherwise fold it away).
 */
export function xmlText(value: string): string {
  return value
    .replace(ANSI, "")
    .replace(ILLEGAL, (c) => `#x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\r/g, "&#13;");
}

/** Like `xmlText`, and also safe inside a double-quoted attribute (line breaks kept). */
function attribute(value: string): string {
  return xmlText(value)
    .replace(/"/g, "&quot;")
    .replace(/\n/g, "&#10;")
    .replace(/\t/g, "&#9;");
}
