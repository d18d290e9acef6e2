/**
 * Power loss, as far as processes go: during a drain, every process (the workers, a batch
 * enqueue and a status call, the jobs) is SIGKILLed at one random moment, 20 times over.
 * After each, the store passes the invariant check; at the end the drain completes with
 * every job that was committed completed.
 */
import assert from "node:assert/strict";
import { cli, cliSpawn, type Spawned, tempHome, waitFor } from "../_helpers/cli.ts";
import { killProcessesOf } from "../_helpers/procs.ts";
import { assertConsistent } from "../store/_kv.ts";
import type { Job } from "../../lib/job.ts";

const ROUNDS = 20;
/** Jobs enqueued per round; every fifth round more than one insert batch (100) holds. */
const jobsIn = (round: number) => round % 5 === 0 ? 120 : 24;

/** Lines in a file that jobs append to (0 when it is not there yet). */
async function lineCount(path: string): Promise<number> {
  try {
    return (await Deno.readTextFile(path)).split("\n").length - 1;
  } catch {
    return 0;
  }
}

/** Ids of the jobs in the store at `db`, after checking its invariants. */
async function checkedIds(db: string): Promise<string[]> {
  const kv = await Deno.openKv(db);
  try {
    await assertConsistent(kv);
    const ids: string[] = [];
    for await (const e of kv.list<Job>({ prefix: ["job"] })) ids.push(e.value.id);
    return ids;
  } finally {
    kv.close();
  }
}

Deno.test(`power loss: ${ROUNDS} times every process of a drain is SIGKILLed at a random moment; the store stays consistent and the drain then completes with nothing lost`, async () => {
  const home = await tempHome({ mode: "file" });
  const db = `${home.home}/queue.db`;
  const ran = `${home.home}/ran.txt`;
  const procs: Spawned[] = [];
  try {
    for (
      const [key, value] of [["lease-seconds", "1"], ["backoff-base", "1"], ["max-lost", "1000"]]
    ) {
      const set = await cli(home, ["config", "set", key, value]);
      assert.equal(set.code, 0, set.stderr);
    }
    const committed = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const ids = Array.from({ length: jobsIn(round) }, (_, i) => `r${round}-${i}`);
      const batch = ids.map((id) =>
        JSON.stringify({ id, command: `sleep 0.05; echo ${id} >> ${ran}`, max_retries: 1000 })
      ).join("\n");
      await Deno.writeTextFile(`${home.home}/batch.ndjson`, batch);
      procs.length = 0;
      procs.push(cliSpawn(home, ["enqueue", "--file", "batch.ndjson"]));
      procs.push(cliSpawn(home, ["worker", "run", "--concurrency", "3"]));
      procs.push(cliSpawn(home, ["worker", "run", "--concurrency", "3"]));
      procs.push(cliSpawn(home, ["status"]));
      // The cut comes at a random moment once the drain is under way (a job of this round
      // has run, or the enqueue is through), however slowly the processes start.
      const before = await lineCount(ran);
      let enqueueDone = false;
      procs[0].child.status.then(() => enqueueDone = true);
      await waitFor(async () => enqueueDone || await lineCount(ran) > before, {
        timeoutMs: 60_000,
        what: `round ${round} to get under way`,
      });
      const at = Math.floor(Math.random() * 400);
      await new Promise((r) => setTimeout(r, at)); // the random moment of the power cut
      for (const p of procs) {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch {
          // it had ended already
        }
      }
      await killProcessesOf(home.home); // the jobs (their command lines name the data dir)
      await Promise.all(procs.map((p) => p.kill()));
      const enqueued = await procs[0].child.status;
      const present = new Set(await checkedIds(db));
      for (const id of committed) assert.ok(present.has(id), `round ${round}: ${id} kept`);
      if (enqueued.success) {
        for (const id of ids) assert.ok(present.has(id), `round ${round}: ${id} enqueued`);
      }
      for (const id of present) committed.add(id);
    }
    assert.ok(committed.size > 0, "some batches were committed before their cut");

    // The drain completes: leases of the killed workers lapse (1 s) and their jobs run again.
    await waitFor(async () => {
      const drain = await cli(home, ["worker", "run", "--drain", "--concurrency", "4"]);
      assert.equal(drain.code, 0, drain.stderr);
      const kv = await Deno.openKv(db);
      try {
        for await (const e of kv.list<Job>({ prefix: ["job"] })) {
          if (e.value.state !== "completed") return false;
        }
        return true;
      } finally {
        kv.close();
      }
    }, { timeoutMs: 120_000, intervalMs: 200, what: "the drain to complete every job" });
    const ids = await checkedIds(db);
    assert.deepEqual(ids.sort(), [...committed].sort(), "every committed job, no other");
    const lines = new Set((await Deno.readTextFile(ran)).split("\n").filter((l) => l !== ""));
    for (const id of committed) assert.ok(lines.has(id), `${id} ran`);
  } finally {
    for (const p of procs) await p.kill();
    await home.cleanup();
  }
});
