/**
 * Malformed input across every command: each case must exit 2 with exactly one line on
 * stderr (no stack trace) and leave the store exactly as it was.
 */
import assert from "node:assert/strict";
import { cli, type TempHome, tempHome } from "../_helpers/cli.ts";

interface Case {
  name: string;
  args: string[];
  stdin?: string | Uint8Array;
  /** Files written into the data dir (the CLI's working directory) before the case runs. */
  files?: Record<string, Uint8Array>;
  /** What the line on stderr must say, when the case checks its wording. */
  says?: RegExp;
}

/** A job file whose command holds "é" in Latin-1 (0xE9), not UTF-8, at byte offset 25. */
const LATIN1_JOB = new Uint8Array([
  ...new TextEncoder().encode('{"id":"l1","command":"caf'),
  0xe9,
  ...new TextEncoder().encode('"}\n'),
]);

const SPEC = (fields: Record<string, unknown>) => JSON.stringify(fields);

/** Every case names what is wrong; seed1 (pending) and dead1 (dead) exist. */
const CASES: Case[] = [
  // enqueue: the job spec
  { name: "bad JSON", args: ["enqueue", '{"command":'] },
  { name: "missing command", args: ["enqueue", SPEC({ id: "x" })] },
  { name: "non-string command", args: ["enqueue", SPEC({ command: 42 })] },
  { name: "empty command", args: ["enqueue", SPEC({ command: "  " })] },
  { name: "spec that is not an object", args: ["enqueue", "-"], stdin: "[1, 2]\n" },
  { name: "negative max_retries", args: ["enqueue", SPEC({ command: "true", max_retries: -1 })] },
  {
    name: "max_retries of the wrong type",
    args: ["enqueue", SPEC({ command: "true", max_retries: "3" })],
  },
  { name: "fractional priority", args: ["enqueue", SPEC({ command: "true", priority: 1.5 })] },
  { name: "zero timeout", args: ["enqueue", SPEC({ command: "true", timeout: 0 })] },
  {
    name: "timeout that is not a duration",
    args: ["enqueue", SPEC({ command: "true", timeout: "soon" })],
  },
  { name: "unknown field", args: ["enqueue", SPEC({ command: "true", colour: "red" })] },
  { name: "bad id", args: ["enqueue", SPEC({ id: "bad id!", command: "true" })] },
  { name: "duplicate id", args: ["enqueue", SPEC({ id: "seed1", command: "true" })] },
  { name: "bad run_at", args: ["enqueue", SPEC({ command: "true", run_at: "tomorrow" })] },
  {
    name: "run_at on a day February lacks",
    args: ["enqueue", SPEC({ command: "true", run_at: "2027-02-30T00:00:00Z" })],
    says: /"run_at" must be a day that exists \(February 2027 has 28 days\)/,
  },
  {
    name: "run_at on April 31 in an NDJSON batch",
    args: ["enqueue", "-"],
    stdin: `${SPEC({ command: "true" })}\n${
      SPEC({ command: "true", run_at: "2027-04-31T10:00:00+02:00" })
    }\n`,
  },
  {
    name: "pasted created_at on a day that does not exist",
    args: ["enqueue", SPEC({ command: "true", created_at: "2027-06-31T00:00:00Z" })],
  },
  {
    name: "pasted updated_at on February 29 of a common year",
    args: ["enqueue", SPEC({ command: "true", updated_at: "2027-02-29T00:00:00Z" })],
  },
  {
    name: "job file with invalid UTF-8",
    args: ["enqueue", "--file", "latin1.json"],
    files: { "latin1.json": LATIN1_JOB },
    says: /^Invalid UTF-8 in "latin1\.json" at byte offset 25 \(0xe9\)/,
  },
  {
    name: "job file with invalid UTF-8 named as the argument",
    args: ["enqueue", "latin1.json"],
    says: /byte offset 25/,
  },
  {
    name: "NDJSON on stdin with invalid UTF-8",
    args: ["enqueue", "-"],
    stdin: LATIN1_JOB,
    says: /^Invalid UTF-8 in stdin at byte offset 25/,
  },
  { name: "bad delay", args: ["enqueue", SPEC({ command: "true", delay: "5 fortnights" })] },
  { name: "bad queue", args: ["enqueue", SPEC({ command: "true", queue: "bad queue" })] },
  {
    name: "one bad line in NDJSON writes none",
    args: ["enqueue", "-"],
    stdin: `${SPEC({ id: "ok1", command: "true" })}\n{"command": oops}\n`,
  },
  { name: "empty stdin", args: ["enqueue", "-"], stdin: "" },
  { name: "no job at all", args: ["enqueue"] },
  { name: "missing --file", args: ["enqueue", "--file", "/nonexistent/jobs.json"] },
  // enqueue: options
  { name: "bad --priority", args: ["enqueue", "--priority", "high", "true"] },
  { name: "bad --delay", args: ["enqueue", "--delay", "soon", "true"] },
  { name: "bad --run-at", args: ["enqueue", "--run-at", "yesterday", "true"] },
  {
    name: "--run-at April 31",
    args: ["enqueue", "--run-at", "2027-04-31", "true"],
    says: /^Invalid --run-at "2027-04-31": expected a day that exists \(April 2027 has 30 days\)$/,
  },
  {
    name: "--run-at February 30 with a time",
    args: ["enqueue", "--run-at", "2027-02-30T09:00:00Z", "true"],
  },
  {
    name: "--delay with --run-at",
    args: ["enqueue", "--delay", "5m", "--run-at", "2030-01-01T00:00:00Z", "true"],
  },
  { name: "negative --timeout", args: ["enqueue", "--timeout=-5", "true"] },
  { name: "bad --timeout", args: ["enqueue", "--timeout", "abc", "true"] },
  { name: "bad --max-retries", args: ["enqueue", "--max-retries", "x", "true"] },
  { name: "bad --id", args: ["enqueue", "--id", "no spaces please", "true"] },
  { name: "taken --id", args: ["enqueue", "--id", "seed1", "true"] },
  // list, show, cancel
  { name: "unknown state", args: ["list", "--state", "sleeping"] },
  { name: "--limit 0", args: ["list", "--limit", "0"] },
  { name: "--limit not a number", args: ["list", "--limit", "abc"] },
  { name: "show unknown id", args: ["show", "nope"] },
  { name: "show bad id", args: ["show", "bad id!"] },
  { name: "cancel unknown id", args: ["cancel", "nope"] },
  { name: "cancel a dead job", args: ["cancel", "dead1"] },
  // dlq
  { name: "dlq retry unknown id", args: ["dlq", "retry", "nope"] },
  { name: "dlq remove unknown id", args: ["dlq", "remove", "nope"] },
  { name: "dlq retry with neither id nor --all", args: ["dlq", "retry"] },
  { name: "dlq remove with neither id nor --all", args: ["dlq", "remove"] },
  { name: "dlq retry with both id and --all", args: ["dlq", "retry", "dead1", "--all"] },
  { name: "dlq retry a job that is not dead", args: ["dlq", "retry", "seed1"] },
  { name: "dlq list negative --limit", args: ["dlq", "list", "--limit", "-3"] },
  // worker
  { name: "worker start --count 0", args: ["worker", "start", "--count", "0"] },
  { name: "worker start --count not a number", args: ["worker", "start", "--count", "abc"] },
  { name: "worker run --concurrency 0", args: ["worker", "run", "--concurrency", "0"] },
  { name: "worker run bad --queue", args: ["worker", "run", "--queue", "bad queue!"] },
  { name: "worker stop bad --timeout", args: ["worker", "stop", "--timeout", "abc"] },
  // config
  { name: "config set unknown key", args: ["config", "set", "colour", "1"] },
  { name: "config get unknown key", args: ["config", "get", "colour"] },
  { name: "config set negative max-retries", args: ["config", "set", "max-retries", "-1"] },
  { name: "config set max-retries not a number", args: ["config", "set", "max-retries", "abc"] },
  { name: "config set fractional max-retries", args: ["config", "set", "max-retries", "1.5"] },
  { name: "config set jitter above 1", args: ["config", "set", "backoff-jitter", "2"] },
  { name: "config set lease-seconds 0", args: ["config", "set", "lease-seconds", "0"] },
  { name: "config set tiny max-log-bytes", args: ["config", "set", "max-log-bytes", "10"] },
  { name: "config set without a value", args: ["config", "set", "max-retries"] },
  // the command line itself
  { name: "unknown command", args: ["frobnicate"] },
  { name: "unknown option", args: ["list", "--frobnicate"] },
  { name: "missing subcommand", args: ["dlq"] },
  { name: "unknown subcommand", args: ["worker", "explode"] },
  { name: "extra argument", args: ["status", "extra-arg"] },
];

/** Every key and value in the store (versionstamps included: any write shows). */
async function storeDump(home: TempHome): Promise<string> {
  const kv = await home.store.open();
  try {
    const entries: unknown[] = [];
    for await (const e of kv.list({ prefix: [] })) entries.push([e.key, e.value, e.versionstamp]);
    return JSON.stringify(entries, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
  } finally {
    kv.close();
  }
}

/** What the CLI shows of the store: every job and every setting. */
async function cliSnapshot(home: TempHome): Promise<string> {
  const list = await cli(home, ["list", "--limit", "1000", "--json"]);
  const config = await cli(home, ["config", "list", "--json"]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(config.code, 0, config.stderr);
  return list.stdout + config.stdout;
}

Deno.test(`bad input: ${CASES.length} malformed inputs across every command exit 2 with one line on stderr and leave the store unchanged`, async () => {
  const home = await tempHome();
  try {
    const seed = async (args: string[]) => {
      const r = await cli(home, args);
      assert.ok(r.code === 0 || args[0] === "worker", `${args.join(" ")}: ${r.stderr}`);
    };
    await seed(["enqueue", SPEC({ id: "dead1", command: "exit 1", max_retries: 0 })]);
    await seed(["worker", "run", "--drain"]);
    await seed(["enqueue", SPEC({ id: "seed1", command: "echo hi", priority: 3 })]);
    await seed(["config", "set", "max-retries", "4"]);
    const shown = await cliSnapshot(home);
    assert.match(shown, /"seed1"/);
    assert.match(shown, /"dead1"/);
    const names = new Set<string>();
    for (const c of CASES) {
      assert.ok(!names.has(c.name), `case names are unique: ${c.name}`);
      names.add(c.name);
      for (const [name, bytes] of Object.entries(c.files ?? {})) {
        await Deno.writeFile(`${home.home}/${name}`, bytes);
      }
      const before = await storeDump(home);
      const result = await cli(home, c.args, { stdin: c.stdin });
      const what = `${c.name} (queuectl ${c.args.join(" ")})`;
      assert.equal(result.code, 2, `${what}: exit code; stderr: ${result.stderr}`);
      const lines = result.stderr.split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 1, `${what}: one line on stderr, got ${result.stderr}`);
      assert.ok(result.stderr.endsWith("\n"), `${what}: the line ends with a newline`);
      assert.doesNotMatch(result.stderr, /^ {4}at |error: Uncaught|Stack backtrace/m, what);
      assert.match(lines[0], /^[A-Z]/, `${what}: the message starts with a capital`);
      if (c.says) assert.match(lines[0], c.says, what);
      assert.equal(result.stdout, "", `${what}: nothing on stdout`);
      assert.equal(await storeDump(home), before, `${what}: the store is unchanged`);
    }
    assert.equal(await cliSnapshot(home), shown, "list and config show the same store");
  } finally {
    await home.cleanup();
  }
});
