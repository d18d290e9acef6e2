/**
 * The bugs `deno task mutants` plants, one at a time, each with the test files that must
 * catch it. A search text must occur exactly once in its file; when the code it names has
 * changed, the mutation is reported as stale (fix the text, never drop the mutation).
 * @module
 */

/** One planted bug: `search` in `file` becomes `replace`; `tests` must then fail. */
export interface Mutation {
  /** The bug, as someone could write it. */
  name: string;
  /** The file to change, relative to the repository root. */
  file: string;
  /** Exact text, found exactly once in the file. */
  search: string;
  replace: string;
  /** Test files (relative to the root) that must fail with the bug in place. */
  tests: string[];
  /** Only the tests whose names match (deno test --filter). */
  filter?: string;
}

const STATE_MACHINE = ["tests/state_machine_test.ts"];
const CAPPED_LOG = ["tests/capped_log_test.ts"];

/** Every planted bug. */
export const MUTATIONS: Mutation[] = [
  {
    name: "backoff exponent: base ^ (attempts - 1)",
    file: "lib/backoff.ts",
    search: "const raw = Math.pow(settings.base, attempts);",
    replace: "const raw = Math.pow(settings.base, attempts - 1);",
    tests: ["tests/backoff_test.ts", ...STATE_MACHINE],
  },
  {
    name: "backoff cap: max-backoff ignored",
    file: "lib/backoff.ts",
    search:
      "const capped = Math.min(Number.isFinite(raw) ? raw : settings.maxSeconds, settings.maxSeconds);",
    replace: "const capped = Number.isFinite(raw) ? raw : settings.maxSeconds;",
    tests: ["tests/backoff_test.ts"],
  },
  {
    name: "backoff jitter lengthens the delay",
    file: "lib/backoff.ts",
    search: "return capped * (1 - settings.jitter * random);",
    replace: "return capped * (1 + settings.jitter * random);",
    tests: ["tests/backoff_test.ts"],
  },
  {
    name: "lease token check: any token may finish a held job",
    file: "lib/state_machine.ts",
    search: "if (job.lease_token !== token) {",
    replace: "if (job.lease_token === null) {",
    tests: STATE_MACHINE,
  },
  {
    name: "lease token check in renewal: a record with any token counts as kept",
    file: "lib/worker/lease_keeper.ts",
    search: "fresh.job.lease_token === options.leaseToken &&",
    replace: "fresh.job.lease_token !== null &&",
    tests: ["tests/worker/lease_keeper_test.ts"],
  },
  {
    name: "versionstamp check: a state change commits over a record changed since it was read",
    file: "lib/store/jobs.ts",
    search: "op.check({ key: jobKey(before.job.id), versionstamp: before.versionstamp });",
    replace: "",
    tests: ["tests/store/jobs_test.ts", "tests/store/claim_test.ts"],
    filter: "/versionstamp|exactly once|capped queue/",
  },
  {
    name: "cap check: a capped queue's running count is checked only while the counter is absent",
    file: "lib/store/claim.ts",
    search: "if (count) op.check({ key: count.key, versionstamp: count.versionstamp });",
    replace:
      "if (count && count.versionstamp === null) op.check({ key: count.key, versionstamp: count.versionstamp });",
    tests: ["tests/store/claim_test.ts"],
  },
  {
    name: "claim order: lowest priority first",
    file: "lib/store/claim.ts",
    search: "heads.sort((a, b) => compareParts(a.key.slice(2), b.key.slice(2)));",
    replace: "heads.sort((a, b) => compareParts(b.key.slice(2), a.key.slice(2)));",
    tests: ["tests/store/claim_test.ts"],
  },
  {
    name: "counters: a state a job leaves is counted up instead of down",
    file: "lib/store/jobs.ts",
    search: "    else op.sum(key, MINUS_ONE);",
    replace: "    else op.sum(key, ONE);",
    tests: ["tests/store/jobs_test.ts"],
    filter: "/whole life|delayed job/",
  },
  {
    name: "exit codes: a usage mistake exits 1",
    file: "lib/errors.ts",
    search: "export const EXIT_USAGE = 2;",
    replace: "export const EXIT_USAGE = 1;",
    tests: ["tests/errors_test.ts"],
  },
  {
    name: "exit codes: a job's non-zero exit code is reported as 1",
    file: "lib/runner.ts",
    search: 'else outcome = { kind: "exited", code: status.code };',
    replace: 'else outcome = { kind: "exited", code: status.code === 0 ? 0 : 1 };',
    tests: ["tests/runner_test.ts"],
    filter: "exit code",
  },
  {
    name: "DLQ boundary: max_retries n allows n + 2 runs",
    file: "lib/state_machine.ts",
    search: 'if (job.attempts >= job.max_retries + 1) return dead("failed");',
    replace: 'if (job.attempts > job.max_retries + 1) return dead("failed");',
    tests: STATE_MACHINE,
  },
  {
    name: "fail_fast_on ignored: the code is retried",
    file: "lib/state_machine.ts",
    search: "if (job.fail_fast_on?.includes(outcome.code)) {",
    replace: "if (job.fail_fast_on?.includes(outcome.code) && false) {",
    tests: STATE_MACHINE,
  },
  {
    name: "due boundary: a job is claimable only after next_run_at, not at it",
    file: "lib/state_machine.ts",
    search: "Date.parse(job.next_run_at) <= now.getTime()",
    replace: "Date.parse(job.next_run_at) < now.getTime()",
    tests: STATE_MACHINE,
  },
  {
    name: "lease end: a lease that ends now is still live",
    file: "lib/state_machine.ts",
    search: "Date.parse(job.lease_expires_at) > input.now.getTime()",
    replace: "Date.parse(job.lease_expires_at) >= input.now.getTime()",
    tests: STATE_MACHINE,
  },
  {
    name: "a stopped run counts against the retries",
    file: "lib/state_machine.ts",
    search: "attempts: Math.max(0, job.attempts - 1),",
    replace: "attempts: job.attempts,",
    tests: STATE_MACHINE,
  },
  {
    name: "immutability: expireLease writes the lost count into the job it is given",
    file: "lib/state_machine.ts",
    search: "const lost = (job.lost ?? 0) + 1;",
    replace: "const lost = job.lost = (job.lost ?? 0) + 1;",
    tests: STATE_MACHINE,
  },
  {
    name: "log cap: the head takes the whole cap, the file grows to cap + tail",
    file: "lib/capped_log.ts",
    search: "this.#headCap = capBytes - this.#tailCap;",
    replace: "this.#headCap = capBytes;",
    tests: CAPPED_LOG,
  },
  {
    name: "log error stop: CappedLog.write goes on writing after its first error",
    file: "lib/capped_log.ts",
    search: "    if (this.error) return;\n",
    replace: "",
    tests: CAPPED_LOG,
  },
  {
    name: "unbounded memory tail: the tail is half the cap, however big the cap",
    file: "lib/capped_log.ts",
    search: "this.#tailCap = Math.min(Math.floor(capBytes / 2), MAX_MEMORY_TAIL_BYTES);",
    replace: "this.#tailCap = Math.floor(capBytes / 2);",
    tests: CAPPED_LOG,
  },
  {
    name: "schedule firing without the check-and-set on the next-fire key (lost updates)",
    file: "lib/store/schedules.ts",
    search:
      "      .check({ key: scheduleNextKey(name), versionstamp: entry.stateVersionstamp });\n" +
      "    if (last) op.check({ key: jobKey(last.job.id), versionstamp: last.versionstamp });\n" +
      "    let job",
    replace: ";\n" +
      "    if (last) op.check({ key: jobKey(last.job.id), versionstamp: last.versionstamp });\n" +
      "    let job",
    tests: ["tests/store/schedules_test.ts"],
    filter: "8 handles",
  },
  {
    name: "schedule catch-up fires the oldest missed ticks instead of the latest",
    file: "lib/cron.ts",
    search: "    if (latest.length > keep) latest.shift();",
    replace: "    if (latest.length > keep) latest.pop();",
    tests: ["tests/schedule_test.ts"],
  },
];
