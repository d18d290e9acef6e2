import assert from "node:assert/strict";
import { XMLParser, XMLValidator } from "npm:fast-xml-parser@5.12.1";
import type { Attempt, AttemptOutcome, Job, JobState } from "../lib/job.ts";
import { type JunitJob, junitReport, xmlText } from "../lib/output/junit.ts";

function entry(
  id: string,
  state: JobState,
  options: { outcome?: AttemptOutcome; output?: string; queue?: string; command?: string } = {},
): JunitJob {
  const outcome = options.outcome ?? { kind: "exited", code: state === "completed" ? 0 : 3 };
  const job: Job = {
    id,
    command: options.command ?? `run ${id}`,
    state,
    attempts: 2,
    runs: 2,
    max_retries: 1,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:01.000Z",
    cwd: "/tmp",
    queue: options.queue ?? "default",
    priority: 0,
    timeout: null,
    next_run_at: null,
    seq: 1,
    last_error: state === "dead" ? "exit code 3" : null,
    exit_code: outcome.kind === "exited" ? outcome.code : null,
    worker_id: null,
    lease_token: null,
    lease_expires_at: null,
    started_at: "2026-01-01T00:00:00.500Z",
    finished_at: "2026-01-01T00:00:01.000Z",
    label: null,
    unique_key: null,
    after: [],
    after_any: false,
    waiting_on: [],
    retry_on: null,
    fail_fast_on: null,
    lost: 0,
    dead_reason: state === "dead" ? "failed" : null,
  };
  const attempt: Attempt = {
    job_id: id,
    attempt: 2,
    worker_id: "w-1",
    host: "ci",
    started_at: "2026-01-01T00:00:00.500Z",
    finished_at: "2026-01-01T00:00:01.000Z",
    duration_ms: 1250,
    outcome,
    exit_code: job.exit_code,
    error: state === "dead" ? "exit code 3" : null,
    output_tail: options.output ?? "",
  };
  return { job, attempt };
}

const info = {
  name: "queuectl",
  elapsedMs: 4200,
  timestamp: "2026-01-01T00:00:00.000Z",
  hostname: "ci",
};
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  trimValues: false,
  htmlEntities: true,
  isArray: (name) => ["testsuite", "testcase"].includes(name),
});
// deno-lint-ignore no-control-regex -- XML 1.0 forbids these characters outright
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

interface Case {
  name: string;
  classname: string;
  time: string;
  failure?: { message: string; type: string; "#text": string };
  skipped?: { message: string };
  "system-out"?: string;
  "system-err"?: string;
}
interface Suite {
  name: string;
  tests: string;
  failures: string;
  skipped: string;
  testcase: Case[];
}

function parse(xml: string): { testsuites: Record<string, string> & { testsuite: Suite[] } } {
  assert.equal(XMLValidator.validate(xml), true, xml);
  assert.ok(!FORBIDDEN.test(xml), "no character XML 1.0 forbids");
  return parser.parse(xml);
}

Deno.test("junitReport() writes one testcase per job, a failure for dead jobs, output in system-out", () => {
  const xml = junitReport([
    entry("ok1", "completed", { output: "hello\n" }),
    entry("bad", "dead", { output: "boom\n", command: "make test" }),
    entry("gone", "cancelled", { outcome: { kind: "cancelled" } }),
  ], info);
  assert.ok(xml.startsWith(`<?xml version="1.0" encoding="UTF-8"?>\n<testsuites`));
  const doc = parse(xml).testsuites;
  assert.equal(doc.tests, "3");
  assert.equal(doc.failures, "1");
  assert.equal(doc.skipped, "1");
  assert.equal(doc.time, "4.200");
  const [suite] = doc.testsuite;
  assert.equal(suite.name, "default");
  const [ok1, bad, gone] = suite.testcase;
  assert.deepEqual([ok1.name, bad.name, gone.name], ["ok1", "bad", "gone"]);
  assert.equal(ok1.classname, "queuectl.default");
  assert.equal(ok1.time, "1.250");
  assert.equal(ok1.failure, undefined);
  assert.equal(ok1["system-out"], "hello\n");
  assert.equal(bad.failure?.message, "exit code 3");
  assert.equal(bad.failure?.type, "exited");
  assert.match(bad.failure?.["#text"] ?? "", /command: make test\nattempts: 2 of 2/);
  assert.equal(bad["system-out"], "boom\n");
  assert.equal(gone.skipped?.message, "cancelled");
  assert.equal(gone.failure, undefined);
});

Deno.test("junitReport() puts a job's stderr in system-err and its stdout in system-out", () => {
  const both = { ...entry("b", "dead"), streams: { stdout: "out\n", stderr: "<err>\n" } };
  const quiet = { ...entry("q", "completed"), streams: { stdout: "", stderr: "only err\n" } };
  const [b, q] = parse(junitReport([both, quiet], info)).testsuites.testsuite[0].testcase;
  assert.equal(b["system-out"], "out\n");
  assert.equal(b["system-err"], "<err>\n");
  assert.equal(q["system-out"], undefined, "no empty system-out");
  assert.equal(q["system-err"], "only err\n");
});

Deno.test("junitReport() groups jobs into one testsuite per queue, sorted by name", () => {
  const doc = parse(junitReport([
    entry("a", "completed", { queue: "reports" }),
    entry("b", "dead", { queue: "emails" }),
    entry("c", "completed", { queue: "reports" }),
  ], info)).testsuites;
  assert.deepEqual(doc.testsuite.map((s) => [s.name, s.tests, s.failures]), [
    ["emails", "1", "1"],
    ["reports", "2", "0"],
  ]);
  assert.deepEqual(doc.testsuite[1].testcase.map((c) => c.name), ["a", "c"]);
});

Deno.test("junitReport() with no jobs is a valid empty report", () => {
  const doc = parse(junitReport([], info)).testsuites;
  assert.equal(doc.tests, "0");
  assert.equal(doc.testsuite, undefined);
});

Deno.test("junitReport() escapes markup, quotes and control characters in output, ids and errors", () => {
  const nasty =
    `<b>&"quoted"</b> 'x' ]]> \u0000nul \u0007bell \u001b[31mred\u001b[0m \uFFFF\r\nend`;
  const bad = entry(`id"<&>`, "dead", { output: nasty, command: nasty });
  bad.attempt.error = `exit "3" <&>\u0001\nsecond line`;
  const xml = junitReport([bad], info);
  const [testcase] = parse(xml).testsuites.testsuite[0].testcase;
  assert.equal(testcase.name, `id"<&>`);
  assert.equal(testcase.failure?.message, `exit "3" <&>#x01\nsecond line`);
  assert.equal(
    testcase["system-out"],
    `<b>&"quoted"</b> 'x' ]]> #x00nul #x07bell red #xFFFF\r\nend`,
    "ANSI colours dropped, forbidden characters spelled out, CR kept",
  );
});

Deno.test("xmlText() spells out lone surrogates and keeps valid astral characters", () => {
  assert.equal(xmlText("a\uD800b"), "a#xD800b");
  assert.equal(xmlText("a\uDC00b"), "a#xDC00b");
  assert.equal(xmlText("rocket 🚀 tab\tnewline\n"), "rocket 🚀 tab\tnewline\n");
  assert.equal(xmlText("1 < 2 && 3 > 2"), "1 &lt; 2 &amp;&amp; 3 &gt; 2");
});
