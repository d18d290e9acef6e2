/**
 * Relative paths: a relative QUEUECTL_HOME or --db names the store relative to where the
 * command runs, for the command and the workers it starts alike; a `worker start` that
 * fails leaves no process behind.
 */
import assert from "node:assert/strict";
import {
  cli,
  cliJson,
  type CliResult,
  killPid,
  pathExists,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { alive, groupMembers } from "../_helpers/procs.ts";
import { openStore } from "../../lib/store/open.ts";
import { resolvePaths } from "../../lib/paths.ts";
import { spawnWorkers } from "../../lib/supervisor.ts";
import { workerList } from "../../lib/store/workers.ts";

Deno.test("e2e: worker start with a relative QUEUECTL_HOME starts, logs and runs jobs in that dir", async () => {
  const home = await tempHome();
  const env = { QUEUECTL_HOME: "relhome" };
  const pids: number[] = [];
  try {
    const started = await cli(home, ["worker", "start", "--json"], { env });
    assert.equal(started.code, 0, started.stderr);
    const [worker] = JSON.parse(started.stdout) as { id: string; pid: number; log: string }[];
    pids.push(worker.pid);
    assert.equal(worker.log, `${home.home}/relhome/workers/${worker.id}.log`);
    assert.equal((await cli(home, ["enqueue", "--id", "j1", "true"], { env })).code, 0);
    await waitFor(async () => {
      const r = await cli(home, ["show", "j1", "--json"], { env });
      return r.code === 0 && JSON.parse(r.stdout).state === "completed";
    }, { timeoutMs: 20_000, what: "j1 to complete" });
    assert.match(await Deno.readTextFile(worker.log), /started \(pid \d+/);
    assert.equal(await pathExists(`${home.home}/relhome/relhome`), false, "no nested data dir");
    const stopped = await cli(home, ["worker", "stop"], { env });
    assert.equal(stopped.code, 0, stopped.stderr);
  } finally {
    for (const pid of pids) killPid(pid);
    await home.cleanup();
  }
});

Deno.test("e2e: a relative --db from another directory is the same store for the CLI and its workers", async () => {
  const home = await tempHome();
  const sub = `${home.home}/sub`;
  await Deno.mkdir(sub);
  const run = (args: string[]): Promise<CliResult> =>
    cli(home, ["--db", "mydb.db", ...args], { cwd: sub });
  const pids: number[] = [];
  try {
    const started = await run(["worker", "start", "--json"]);
    assert.equal(started.code, 0, started.stderr);
    pids.push(...(JSON.parse(started.stdout) as { pid: number }[]).map((w) => w.pid));
    assert.equal((await run(["enqueue", "--id", "j1", "true"])).code, 0);
    await waitFor(async () => {
      const r = await run(["show", "j1", "--json"]);
      return r.code === 0 && JSON.parse(r.stdout).state === "completed";
    }, { timeoutMs: 20_000, what: "j1 to complete" });
    assert.ok(await pathExists(`${sub}/mydb.db`), "the store is beside the cwd");
    assert.equal(await pathExists(`${home.home}/mydb.db`), false, "no store in the data dir");
    const workers = await cliJson<{ id: string }[]>(home, [
      "--db",
      `${sub}/mydb.db`,
      "worker",
      "status",
    ]);
    assert.equal(workers.length, 1, "the worker serves the store the CLI named");
    assert.equal((await run(["worker", "stop"])).code, 0);
  } finally {
    for (const pid of pids) killPid(pid);
    await home.cleanup();
  }
});

Deno.test("spawnWorkers() that fails stops every worker it launched, stopped or hanging, with their jobs", async () => {
  const home = await tempHome();
  const paths = resolvePaths({ QUEUECTL_HOME: home.home });
  const kv = await openStore(paths);
  // A "worker" that never registers: it records its pid, starts a child (a job), and
  // stops itself (SIGSTOP), as a worker hung before registering would sit there.
  const fake = `${home.home}/fake-worker.sh`;
  await Deno.writeTextFile(
    fake,
    // The child names the temp dir, so that cleanup() finds it should the test fail.
    `#!/bin/sh\necho $$ >> "${home.home}/pids"\nsh -c "sleep 120" "${home.home}" &\nkill -STOP $$\nwait\n`,
  );
  await Deno.chmod(fake, 0o755);
  try {
    await assert.rejects(
      spawnWorkers(kv, { standalone: true, execPath: fake, mainModule: "file:///x" }, {
        paths,
        count: 2,
        concurrency: 1,
        queues: null,
        timeoutMs: 1_000,
      }),
      /^OperationError: Worker failed to start: .* did not start within 1s; the 2 worker\(s\) started were stopped; see /,
    );
    const pids = (await Deno.readTextFile(`${home.home}/pids`)).trim().split("\n").map(Number);
    assert.equal(pids.length, 2);
    for (const pid of pids) {
      assert.equal(await alive(pid), false, `worker ${pid} is gone`);
      assert.deepEqual(await groupMembers(pid), [], `nothing of worker ${pid}'s group is left`);
    }
    assert.deepEqual(await workerList(kv), [], "no worker record is left");
  } finally {
    kv.close();
    await home.cleanup();
  }
});
