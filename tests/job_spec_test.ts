import assert from "node:assert/strict";
import { defaultConfig } from "../lib/config.ts";
import { assertUsage } from "./_helpers/assert.ts";
import {
  checkDelay,
  MAX_DELAY_SECONDS,
  newJob,
  parseJobJson,
  parseJobSpec,
  validateJobId,
} from "../lib/job_spec.ts";

const usage = assertUsage;

const NOW = new Date("2030-01-01T00:00:00.000Z");
const ctx = (over: Partial<Parameters<typeof newJob>[1]> = {}) => ({
  id: "gen123",
  now: NOW,
  seq: 42,
  cwd: "/work",
  config: defaultConfig(),
  ...over,
});

Deno.test("parseJobSpec() accepts a full spec", () => {
  const spec = parseJobSpec({
    id: "job-1.a_b:c",
    command: "echo hi",
    max_retries: 2,
    priority: -5,
    timeout: 1.5,
    queue: "emails.v2",
    run_at: "2030-01-02T03:04:05Z",
  });
  assert.deepEqual(spec, {
    id: "job-1.a_b:c",
    command: "echo hi",
    max_retries: 2,
    priority: -5,
    timeout: 1.5,
    queue: "emails.v2",
    run_at: new Date("2030-01-02T03:04:05Z"),
  });
  assert.deepEqual(parseJobSpec({ command: "true", delay: "5m" }), { command: "true", delay: 300 });
  assert.deepEqual(parseJobSpec({ command: "true", delay: 7 }), { command: "true", delay: 7 });
  assert.deepEqual(parseJobJson('{"command":"ls"}'), { command: "ls" });
});

Deno.test("parseJobSpec() accepts the record fields people paste: state, attempts, times", () => {
  const spec = parseJobSpec({
    id: "job1",
    command: "sleep 2",
    state: "pending",
    attempts: 0,
    max_retries: 3,
    created_at: "2025-11-04T10:30:00Z",
    updated_at: "2025-11-04T10:30:00.123Z",
  });
  assert.deepEqual(spec, { id: "job1", command: "sleep 2", max_retries: 3 });
  const msg = (field: string, expected: string, got: string) =>
    `Invalid job spec: "${field}" must be ${expected}, got ${got}`;
  usage(
    () => parseJobSpec({ command: "x", state: "completed" }),
    msg("state", '"pending"', '"completed"'),
  );
  usage(() => parseJobSpec({ command: "x", attempts: 2 }), msg("attempts", "0", "2"));
  usage(
    () => parseJobSpec({ command: "x", created_at: "yesterday" }),
    msg("created_at", "an ISO-8601 time", '"yesterday"'),
  );
  usage(
    () => parseJobSpec({ command: "x", updated_at: 5 }),
    msg("updated_at", "an ISO-8601 time", "5"),
  );
});

Deno.test("parseJobSpec() names every invalid field with what it expected", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{}, '"command" must be a non-empty string, got undefined'],
    [{ command: "" }, '"command" must be a non-empty string, got ""'],
    [{ command: "   " }, '"command" must be a non-empty string, got "   "'],
    [{ command: 5 }, '"command" must be a non-empty string, got 5'],
    [{ command: "x", id: 5 }, '"id" must be a string, got 5'],
    [
      { command: "x", max_retries: -1 },
      '"max_retries" must be an integer from 0 to 1000000000, got -1',
    ],
    [
      { command: "x", max_retries: 1.5 },
      '"max_retries" must be an integer from 0 to 1000000000, got 1.5',
    ],
    [
      { command: "x", max_retries: "3" },
      '"max_retries" must be an integer from 0 to 1000000000, got "3"',
    ],
    [
      { command: "x", max_retries: 1e10 },
      '"max_retries" must be an integer from 0 to 1000000000, got 10000000000',
    ],
    [
      { command: "x", priority: 0.5 },
      '"priority" must be an integer from -1000000000 to 1000000000, got 0.5',
    ],
    [
      { command: "x", priority: -2e9 },
      '"priority" must be an integer from -1000000000 to 1000000000, got -2000000000',
    ],
    [
      { command: "x", timeout: 0 },
      '"timeout" must be a duration > 0 and <= 2147483 seconds (600, "10m"), got 0',
    ],
    [
      { command: "x", timeout: "soon" },
      '"timeout" must be a duration > 0 and <= 2147483 seconds (600, "10m"), got "soon"',
    ],
    [
      { command: "x", timeout: 3e6 },
      '"timeout" must be a duration > 0 and <= 2147483 seconds (600, "10m"), got 3000000',
    ],
    [
      { command: "x", queue: "" },
      `"queue" must be a name of letters, digits, '.', '_' or '-', got ""`,
    ],
    [
      { command: "x", queue: "a b" },
      `"queue" must be a name of letters, digits, '.', '_' or '-', got "a b"`,
    ],
    [
      { command: "x", queue: "q".repeat(65) },
      `"queue" must be a name of letters, digits, '.', '_' or '-', got "${"q".repeat(65)}"`,
    ],
    [{ command: "x", run_at: "tomorrow" }, '"run_at" must be an ISO-8601 time, got "tomorrow"'],
    [
      { command: "x", run_at: 1893456000000 },
      '"run_at" must be an ISO-8601 time, got 1893456000000',
    ],
    [
      { command: "x", delay: true },
      '"delay" must be a duration such as "30s" or a number of seconds, got true',
    ],
  ];
  for (const [input, message] of cases) {
    usage(() => parseJobSpec(input), `Invalid job spec: ${message}`);
  }
  usage(
    () => parseJobSpec({ command: "x", delay: "soon" }),
    'Invalid job spec "delay" "soon": expected a duration such as 90, 30s, 5m, 2h, 1d or 1w',
  );
  usage(
    () => parseJobSpec({ command: "x", delay: -1 }),
    'Invalid job spec "delay" -1: expected a number of seconds >= 0',
  );
  usage(
    () => parseJobSpec({ command: "x", delay: "1000000000d" }),
    /^Invalid job spec "delay": 86400000000000 seconds is longer than the limit/,
  );
  usage(
    () => parseJobSpec({ command: "x", id: "bad id" }),
    'Invalid job id "bad id": expected 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
  );
  usage(
    () => parseJobSpec({ command: "x".repeat(16 * 1024 + 1) }),
    'Invalid job spec: "command" is longer than 16384 bytes',
  );
  usage(
    () => parseJobSpec({ command: "echo a\0b" }),
    'Invalid job spec: "command" contains a NUL character',
  );
});

Deno.test("parseJobSpec() rejects unknown fields, listing the fields it knows", () => {
  usage(
    () => parseJobSpec({ command: "x", retries: 3 }),
    'Invalid job spec: unknown field "retries"; expected id, command, max_retries, priority, ' +
      "timeout, queue, run_at, delay, label, unique_key, after, after_any, retry_on, fail_fast_on, cwd, env",
  );
});

Deno.test("parseJobSpec() rejects what is not a JSON object, and names where it came from", () => {
  for (const value of [null, [], "echo hi", 5]) {
    usage(
      () => parseJobSpec(value),
      'Invalid job spec: expected a JSON object such as {"command":"echo hi"}',
    );
  }
  usage(() => parseJobSpec({}, "jobs.json item 2"), /^Invalid jobs\.json item 2: "command"/);
  usage(() => parseJobJson("{bad", "stdin line 3"), /^Invalid JSON in stdin line 3: /);
  usage(() => parseJobJson(""), /^Invalid JSON in job spec: /);
});

Deno.test("parseJobSpec() takes run_at or delay, not both", () => {
  usage(
    () => parseJobSpec({ command: "x", run_at: "2030-01-01T00:00:00Z", delay: "5s" }),
    'Invalid job spec: give "run_at" or "delay", not both',
  );
});

Deno.test("validateJobId() accepts 1-128 safe characters starting with a letter or digit", () => {
  for (const id of ["a", "0", "job1", "a.b_c:d-e", "A".repeat(128), "2024-01-01T00:00"]) {
    assert.equal(validateJobId(id), id);
  }
  for (
    const id of ["", "-a", ".a", "_a", ":a", "a b", "a/b", "a\\b", "é", "a".repeat(129), "a\n"]
  ) {
    usage(() => validateJobId(id), /^Invalid job id ".*": expected 1-128 letters/s);
  }
});

Deno.test("checkDelay() allows up to MAX_DELAY_SECONDS", () => {
  assert.equal(checkDelay(MAX_DELAY_SECONDS, "--delay"), MAX_DELAY_SECONDS);
  usage(
    () => checkDelay(MAX_DELAY_SECONDS + 1, "--delay"),
    /^Invalid --delay: \d+ seconds is longer/,
  );
});

Deno.test("newJob() fills the defaults from the config and the context", () => {
  const job = newJob(parseJobSpec({ command: "echo hi" }), ctx());
  assert.deepEqual(job, {
    id: "gen123",
    command: "echo hi",
    state: "pending",
    attempts: 0,
    runs: 0,
    max_retries: 3,
    created_at: NOW.toISOString(),
    updated_at: NOW.toISOString(),
    cwd: "/work",
    queue: "default",
    priority: 0,
    timeout: null,
    next_run_at: null,
    seq: 42,
    last_error: null,
    exit_code: null,
    worker_id: null,
    lease_token: null,
    lease_expires_at: null,
    started_at: null,
    finished_at: null,
    label: null,
    unique_key: null,
    after: [],
    after_any: false,
    waiting_on: [],
    retry_on: null,
    fail_fast_on: null,
    lost: 0,
    dead_reason: null,
  });
});

Deno.test("newJob() prefers the spec over the config", () => {
  const config = { ...defaultConfig(), "max-retries": 7, "job-timeout": 60 };
  const fromConfig = newJob(parseJobSpec({ command: "x" }), ctx({ config }));
  assert.equal(fromConfig.max_retries, 7);
  assert.equal(fromConfig.timeout, 60);
  const own = newJob(
    parseJobSpec({ id: "mine", command: "x", max_retries: 0, timeout: 5, priority: 9, queue: "q" }),
    ctx({ config }),
  );
  assert.equal(own.id, "mine");
  assert.equal(own.max_retries, 0, "0 retries is kept, not replaced by the default");
  assert.equal(own.timeout, 5);
  assert.equal(own.priority, 9);
  assert.equal(own.queue, "q");
});

Deno.test("newJob() sets next_run_at from delay or a future run_at only", () => {
  const delayed = newJob(parseJobSpec({ command: "x", delay: "90s" }), ctx());
  assert.equal(delayed.next_run_at, "2030-01-01T00:01:30.000Z");
  assert.equal(newJob(parseJobSpec({ command: "x", delay: 0 }), ctx()).next_run_at, null);
  const future = newJob(parseJobSpec({ command: "x", run_at: "2030-06-01T00:00:00Z" }), ctx());
  assert.equal(future.next_run_at, "2030-06-01T00:00:00.000Z");
  const past = newJob(parseJobSpec({ command: "x", run_at: "2020-01-01T00:00:00Z" }), ctx());
  assert.equal(past.next_run_at, null, "a past run_at runs at once");
  const longest = newJob(parseJobSpec({ command: "x", delay: MAX_DELAY_SECONDS }), ctx());
  assert.ok(longest.next_run_at !== null && Date.parse(longest.next_run_at) > NOW.getTime());
});
