/**
 * Store identity: a store records its id when created; read-only commands never create a
 * store; a worker whose store file was removed or replaced says so and stops.
 */
import assert from "node:assert/strict";
import { cli, killPid, pathExists, pidAlive, tempHome, waitFor } from "../_helpers/cli.ts";
import { killProcessesOf } from "../_helpers/procs.ts";

Deno.test("e2e: read-only commands on a missing store create nothing; status says there is none yet and exits 0 with zero counts", async () => {
  const home = await tempHome({ mode: "file" });
  const data = `${home.home}/not-yet`;
  const env = { QUEUECTL_HOME: data };
  try {
    const status = await cli(home, ["status", "--json"], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(
      status.stderr,
      `No store at ${data}/queue.db yet: it is created by the first enqueue\n`,
    );
    const shown = JSON.parse(status.stdout) as {
      counts: Record<string, number>;
      workers: unknown[];
    };
    assert.ok(Object.values(shown.counts).every((n) => n === 0), "zero counts");
    assert.deepEqual(shown.workers, []);
    for (
      const args of [["status"], ["list"], ["config", "list"], ["worker", "status"], ["stats"], [
        "dlq",
        "list",
      ], ["queue", "list"]]
    ) {
      const r = await cli(home, args, { env });
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    const show = await cli(home, ["show", "nope"], { env });
    assert.equal(show.code, 2, "an unknown id, as in an empty store");
    assert.equal(await pathExists(data), false, "no data dir was made");
    const enqueued = await cli(home, ["enqueue", "true"], { env });
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const after = await cli(home, ["status", "--json"], { env });
    assert.equal(after.stderr, "", "no note once the store exists");
    const store = JSON.parse(after.stdout).store as { id?: string };
    assert.match(store.id ?? "", /^[0-9a-f-]{36}$/, "the new store recorded its id");
  } finally {
    await home.cleanup();
  }
});

for (const how of ["removed", "replaced"] as const) {
  Deno.test(`e2e: a worker whose data dir was ${how} says so in its log and stops, with its job`, async () => {
    const home = await tempHome({ mode: "file" });
    const data = `${home.home}/data`;
    const env = { QUEUECTL_HOME: data };
    const pids: number[] = [];
    try {
      const started = await cli(home, ["worker", "start", "--json"], { env });
      assert.equal(started.code, 0, started.stderr);
      const [worker] = JSON.parse(started.stdout) as { id: string; pid: number; log: string }[];
      pids.push(worker.pid);
      const marker = `${home.home}/job-ran`;
      const enq = await cli(home, ["enqueue", "--id", "long", `touch ${marker}; sleep 60`], {
        env,
      });
      assert.equal(enq.code, 0, enq.stderr);
      await waitFor(() => pathExists(marker), { timeoutMs: 20_000, what: "the job to start" });
      let log = worker.log;
      if (how === "removed") await Deno.remove(data, { recursive: true });
      else {
        // The old data dir moves away (its log with it) and a new store takes its place.
        await Deno.rename(data, `${home.home}/old`);
        log = log.replace(data, `${home.home}/old`);
        assert.equal((await cli(home, ["enqueue", "--id", "new", "true"], { env })).code, 0);
      }
      await waitFor(async () => !await pidAlive(worker.pid), {
        timeoutMs: 30_000,
        what: "the worker to stop",
      });
      assert.equal(await killProcessesOf(marker), 0, "its job was stopped with it");
      if (how === "replaced") {
        const text = await Deno.readTextFile(log);
        assert.match(text, /store file .*queue\.db was replaced .*stopping/);
        const now = await cli(home, ["status", "--json"], { env });
        const shown = JSON.parse(now.stdout) as { workers: unknown[]; counts: { pending: number } };
        assert.deepEqual(shown.workers, [], "the new store has no worker");
        assert.equal(shown.counts.pending, 1, "the new store's job waits for a worker of its own");
      } else {
        const now = await cli(home, ["status"], { env });
        assert.equal(now.code, 0);
        assert.match(now.stderr, /^No store at /, "status says the store is gone");
        assert.equal(await pathExists(data), false, "and does not make it again");
      }
    } finally {
      for (const pid of pids) killPid(pid);
      await home.cleanup();
    }
  });
}
