/**
 * A job's lifecycle by hand through the real CLI (issue 14 item 1): `retry` (alias
 * `restart`) runs finished jobs again and brings back what their cascade cancelled, `rm`
 * removes jobs with their records and logs, `edit` changes a waiting job.
 */
import assert from "node:assert/strict";
import {
  cli,
  cliJson,
  cliSpawn,
  type Spawned,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";

interface JobJson {
  id: string;
  command: string;
  state: string;
  attempts: number;
  runs: number;
  priority: number;
  queue: string;
  label: string | null;
  next_run_at: string | null;
  waiting_on: string[];
  last_error: string | null;
  history?: unknown[];
}

async function ok(home: TempHome, args: string[], env?: Record<string, string>): Promise<string> {
  const result = await cli(home, args, env ? { env } : {});
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function usage(home: TempHome, args: string[], env?: Record<string, string>) {
  const result = await cli(home, args, env ? { env } : {});
  assert.equal(result.code, 2, `queuectl ${args.join(" ")}: ${result.stdout}${result.stderr}`);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  return result.stderr.trim();
}

const show = (home: TempHome, id: string) => cliJson<JobJson>(home, ["show", id]);

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("retry runs finished jobs again and brings back the dependents their failure cancelled", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["enqueue", "--id", "done", "echo ran"]);
    await ok(home, ["enqueue", "--id", "x", "--max-retries", "0", "test -f fixed"]);
    await ok(home, ["enqueue", "--id", "y", "--after", "x", "echo y"]);
    await ok(home, ["enqueue", "--id", "z", "--after", "y", "echo z"]);
    await ok(home, ["enqueue", "--id", "other", "--after", "done", "echo other"]);
    await cli(home, ["worker", "run", "--drain"]);
    assert.equal((await show(home, "x")).state, "dead");
    assert.equal((await show(home, "y")).state, "cancelled");
    assert.equal((await show(home, "z")).last_error, 'dependency "y" ended cancelled');
    assert.equal((await show(home, "other")).state, "completed");

    // A mistake changes nothing: every id is checked before any job moves.
    const before = await ok(home, ["list", "--json"]);
    assert.match(await usage(home, ["retry", "x", "nosuch"]), /^No job with id "nosuch"$/);
    await ok(home, ["enqueue", "--id", "waiting", "--delay", "1h", "true"]);
    assert.match(
      await usage(home, ["retry", "x", "waiting"]),
      /^Job "waiting" is pending: only completed, dead or cancelled jobs can run again$/,
    );
    await ok(home, ["rm", "--force", "waiting"]);
    assert.equal(await ok(home, ["list", "--json"]), before);

    await Deno.writeTextFile(`${home.home}/fixed`, "");
    const out = await ok(home, ["retry", "x"]);
    assert.equal(out, "x pending; 2 cancelled dependent(s) waiting again: y, z\n");
    const x = await show(home, "x");
    assert.equal(x.state, "pending");
    assert.equal(x.attempts, 0);
    assert.equal(x.runs, 1, "earlier runs are kept");
    assert.equal(x.history?.length, 1);
    const y = await show(home, "y");
    assert.deepEqual([y.state, y.waiting_on, y.last_error], ["pending", ["x"], null]);
    assert.deepEqual((await show(home, "z")).waiting_on, ["y"]);

    assert.equal(await ok(home, ["restart", "done"]), "done pending\n");
    const drain = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(drain.code, 0, drain.stderr);
    for (const id of ["x", "y", "z", "done"]) {
      assert.equal((await show(home, id)).state, "completed", id);
    }
    const again = await show(home, "done");
    assert.equal(again.history?.length, 2, "two runs, both recorded");
    assert.equal(await ok(home, ["logs", "done", "--attempt", "1"]), "ran\n");
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.completed, 5);
    assert.equal(status.counts.cancelled + status.counts.dead + status.counts.pending, 0);
  } finally {
    await home.cleanup();
  }
});

Deno.test("rm removes finished jobs with records and logs; a waiting or running one needs --force", async () => {
  const home = await tempHome();
  let worker: Spawned | null = null;
  try {
    await ok(home, ["enqueue", "--id", "a", "echo a"]);
    await cli(home, ["worker", "run", "--drain"]);
    const logDir = `${home.home}/logs/a`;
    assert.ok(await exists(logDir));
    assert.equal(await ok(home, ["rm", "a"]), "Removed a\n");
    assert.match(await usage(home, ["show", "a"]), /^No job with id "a"$/);
    assert.ok(!await exists(logDir), "its logs are gone");

    await ok(home, ["enqueue", "--id", "later", "--delay", "1h", "true"]);
    assert.match(
      await usage(home, ["rm", "later"]),
      /^Job "later" is pending: use --force to cancel it and remove it$/,
    );
    assert.equal((await show(home, "later")).state, "pending");
    assert.equal(await ok(home, ["rm", "--force", "later"]), "Removed later\n");

    const gate = `${home.home}/gate`;
    await ok(home, ["enqueue", "--id", "busy", `while [ ! -f ${gate} ]; do sleep 0.05; done`]);
    worker = cliSpawn(home, ["worker", "run"]);
    await waitFor(async () => (await show(home, "busy")).state === "processing", {
      timeoutMs: 15_000,
      what: "the job to start",
    });
    assert.match(await usage(home, ["rm", "busy"]), /^Job "busy" is processing: use --force/);
    assert.equal(await ok(home, ["rm", "--force", "busy"]), "Removed busy\n");
    const counts = (await cliJson<{ counts: Record<string, number> }>(home, ["status"])).counts;
    assert.deepEqual(
      [counts.pending, counts.processing, counts.cancelled, counts.completed],
      [0, 0, 0, 0],
    );
  } finally {
    await worker?.kill("SIGTERM");
    await home.cleanup();
  }
});

Deno.test("edit changes a waiting job through options or $EDITOR; a running or finished one is refused", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["enqueue", "--id", "j", "--delay", "1h", "echo old-cmd"]);
    await ok(home, ["enqueue", "--id", "k", "true"]);
    const out = await ok(home, [
      "edit",
      "j",
      "--priority",
      "5",
      "--queue",
      "emails",
      "--label",
      "nightly",
      "--run-at",
      "2030-01-02T03:04:05Z",
    ]);
    assert.equal(out, "Edited j: priority, queue, label, run_at\n");
    let j = await show(home, "j");
    assert.deepEqual(
      [j.priority, j.queue, j.label, j.next_run_at, j.state],
      [5, "emails", "nightly", "2030-01-02T03:04:05.000Z", "pending"],
    );
    const queues = await cliJson<{ queues: { name: string; counts: { pending: number } }[] }>(
      home,
      ["queue", "list"],
    );
    assert.deepEqual(queues.queues.map((q) => [q.name, q.counts.pending]), [
      ["default", 1],
      ["emails", 1],
    ]);

    // $EDITOR gets the fields as JSON; what it saves is checked like a spec.
    const editor = { EDITOR: "sed -i -e s/old-cmd/new-cmd/ -e s/nightly/weekly/" };
    assert.equal(await ok(home, ["edit", "j"], editor), "Edited j: command, label\n");
    j = await show(home, "j");
    assert.deepEqual([j.command, j.label], ["echo new-cmd", "weekly"]);
    const bad = { EDITOR: `sed -i s/"priority"/"prio"/` };
    assert.match(
      await usage(home, ["edit", "j"], bad),
      /^Invalid edited job: unknown field "prio"/,
    );
    assert.match(await usage(home, ["edit", "j", "--priority", "x"]), /^Invalid --priority "x"/);
    assert.match(
      await usage(home, ["edit", "j"], { EDITOR: "", VISUAL: "" }),
      /^Nothing to change: give --command/,
    );
    assert.equal((await show(home, "j")).priority, 5, "refused edits changed nothing");

    // Once moved to a queue with no delay left, it runs with its new command.
    await ok(home, ["edit", "j", "--delay", "0"]);
    const drain = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(drain.code, 0, drain.stderr);
    assert.equal(await ok(home, ["logs", "j"]), "new-cmd\n");
    assert.match(
      await usage(home, ["edit", "k", "--priority", "1"]),
      /^Job "k" is completed: only a waiting \(pending or failed\) job can be edited$/,
    );
  } finally {
    await home.cleanup();
  }
});
