/**
 * Output that scripts can trust (issue 14 item 2), through the real CLI: piped tables keep
 * their columns whatever the data, times are ISO 8601, `--format` and `--columns` pick
 * fields, and what `enqueue --validate` and `show --json` print enqueues back as it was.
 */
import assert from "node:assert/strict";
import { cli, cliJson, type TempHome, tempHome } from "../_helpers/cli.ts";

async function ok(home: TempHome, args: string[]): Promise<string> {
  const result = await cli(home, args);
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const rows = (text: string) => text.trimEnd().split("\n").map((l) => l.split("\t"));

Deno.test("piped list: the same columns in the same order whatever the data, times in ISO 8601", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["enqueue", "--id", "a", "--delay", "1h", "echo a"]);
    const before = rows(await ok(home, ["list"]));
    assert.equal(before[0].length, 8, before.join("|"));
    await ok(home, ["enqueue", "--id", "b", "--label", "nightly", "echo\tb"]);
    const after = rows(await ok(home, ["list"]));
    assert.deepEqual(after.map((r) => r.length), [8, 8]);
    const byId = Object.fromEntries(after.map((r) => [r[0], r]));
    assert.deepEqual(byId.a.slice(0, 6), ["a", "pending", "0/4", "echo a", "", ""]);
    assert.equal(byId.b[4], "nightly", "cut -f5 is LABEL for every row");
    assert.equal(byId.b[3], "echo b", "a tab inside a cell becomes a space");
    assert.match(byId.a[6], ISO, "UPDATED is absolute");
    const runsAt = /^runs at (.*)$/.exec(byId.a[7]);
    assert.ok(runsAt && ISO.test(runsAt[1]), byId.a[7]);
    const workers = await ok(home, ["worker", "status"]);
    assert.equal(workers, "No workers running\n");
  } finally {
    await home.cleanup();
  }
});

Deno.test("list --format and --columns pick fields; an unknown field is exit 2 naming the known ones", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["enqueue", "--id", "j1", "--priority", "3", "--queue", "q", "true"]);
    await ok(home, ["enqueue", "--id", "j2", "--delay", "1h", "false"]);
    assert.equal(
      await ok(home, ["list", "--format", "{{.id}} {{.state}}"]),
      "j2 pending\nj1 pending\n",
    );
    assert.equal(
      await ok(home, [
        "list",
        "--format",
        "{{.id}}\\t{{.queue}}\\t{{.priority}}",
        "--state",
        "pending",
      ]),
      "j2\tdefault\t0\nj1\tq\t3\n",
    );
    assert.deepEqual(rows(await ok(home, ["list", "--columns", "id,priority,queue"])), [
      ["j2", "0", "default"],
      ["j1", "3", "q"],
    ]);
    const bad = await cli(home, ["list", "--format", "{{.id}} {{.sate}}"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Unknown field "sate" in --format: expected id, state, runs, /);
    const col = await cli(home, ["list", "--columns", "id,nope"]);
    assert.equal(col.code, 2);
    assert.match(col.stderr, /^Unknown column "nope": expected some of id, state, /);
  } finally {
    await home.cleanup();
  }
});

/** The fields a spec sets, from a job record. */
function specOf(job: Record<string, unknown>) {
  const keys = [
    "id",
    "command",
    "max_retries",
    "priority",
    "timeout",
    "queue",
    "next_run_at",
    "label",
    "unique_key",
    "after",
    "after_any",
    "retry_on",
    "fail_fast_on",
    "cwd",
    "env",
    "state",
    "attempts",
  ];
  return Object.fromEntries(keys.map((k) => [k, job[k]]));
}

Deno.test("enqueue --validate and show --json print what enqueue takes back: a round trip", async () => {
  const home = await tempHome();
  const other = await tempHome();
  try {
    const spec = JSON.stringify({
      id: "rt",
      command: "echo $GREETING",
      max_retries: 1,
      priority: 4,
      timeout: "10m",
      queue: "emails",
      run_at: "2031-05-06T07:08:09Z",
      label: "round trip",
      unique_key: "rt-key",
      retry_on: [75],
      cwd: "/tmp",
      env: { GREETING: "hello" },
    });
    const validated = await ok(home, ["enqueue", "--validate", spec]);
    assert.deepEqual(await ok(home, ["list", "--json"]), "[]\n", "--validate enqueues nothing");
    assert.equal(await ok(other, ["enqueue", validated]), "rt\n");
    const stored = await cliJson<Record<string, unknown>>(other, ["show", "rt"]);
    assert.deepEqual(specOf(stored), specOf(JSON.parse(validated)));
    assert.equal(stored.timeout, 600);

    // show --json of a waiting job enqueues back as the same job.
    const shown = await ok(other, ["show", "rt", "--json"]);
    await ok(other, ["rm", "--force", "rt"]);
    assert.equal(await ok(other, ["enqueue", shown]), "rt\n");
    assert.deepEqual(
      specOf(await cliJson<Record<string, unknown>>(other, ["show", "rt"])),
      specOf(JSON.parse(shown)),
    );
  } finally {
    await home.cleanup();
    await other.cleanup();
  }
});

Deno.test("cwd and env: spec fields and --cwd, --env NAME=value options reach the command", async () => {
  const home = await tempHome();
  try {
    const dir = `${home.home}/work dir`;
    await Deno.mkdir(dir);
    await ok(home, [
      "enqueue",
      "--id",
      "opts",
      "--cwd",
      "work dir",
      "--env",
      "A=1",
      "--env",
      "B=two words",
      'pwd; echo "$A|$B"',
    ]);
    await ok(home, [
      "enqueue",
      JSON.stringify({ id: "spec", command: 'pwd; echo "$C"', cwd: dir, env: { C: "see" } }),
    ]);
    const drain = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(drain.code, 0, drain.stderr);
    assert.equal(await ok(home, ["logs", "opts"]), `${dir}\n1|two words\n`);
    assert.equal(await ok(home, ["logs", "spec"]), `${dir}\nsee\n`);
    const bad = await cli(home, ["enqueue", "--env", "NOEQUALS", "true"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'Invalid --env "NOEQUALS": expected NAME=value\n');
    const rel = await cli(home, ["enqueue", JSON.stringify({ command: "true", cwd: "rel" })]);
    assert.equal(rel.code, 2);
    assert.match(rel.stderr, /"cwd" must be an absolute directory path, got "rel"/);
  } finally {
    await home.cleanup();
  }
});
