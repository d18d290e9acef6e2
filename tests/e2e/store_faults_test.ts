/**
 * Store faults that pass: a store that cannot be written for longer than a lease (made
 * immutable with chattr), and a store whose disk is full. Workers wait them out, say so
 * once in their logs and again when the store is back, keep their jobs running, and carry
 * on; nothing committed is lost and no job runs twice. As root only: ignored otherwise.
 */
import assert from "node:assert/strict";
import {
  cli,
  type CliResult,
  killPid,
  pidAlive,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { needs } from "../_helpers/needs.ts";
import {
  chattrImmutable,
  immutableMissing,
  mountTmpfs,
  tmpfsMissing,
  umount,
} from "../_helpers/mounts.ts";
import { assertConsistent } from "../store/_kv.ts";

interface Status {
  counts: Record<string, number>;
  workers: { id: string; pid: number; store_unavailable_since: string | null }[];
}

interface Listed {
  id: string;
  state: string;
  runs: number;
  attempts: number;
}

/** The CLI on the store at `db` (a file of its own, or the data dir's). */
function storeCli(home: TempHome, db: string) {
  const run = (args: string[]) => cli(home, ["--db", db, ...args]);
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await run([...args, "--json"]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  return { run, json };
}

/** Asserts one line on stderr, exit 1, matching `pattern`. */
function assertOneLine(result: CliResult, pattern: RegExp, what: string): void {
  assert.equal(result.code, 1, `${what}: exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `${what}: one line, got ${result.stderr}`);
  assert.match(lines[0], pattern, what);
}

/** Each log says once that the store went away and once that it came back, and no give-up. */
async function assertOutageLogged(logs: string[]): Promise<void> {
  for (const log of logs) {
    const text = await Deno.readTextFile(log);
    const count = (re: RegExp) => text.split("\n").filter((l) => re.test(l)).length;
    assert.equal(count(/store unavailable since/), 1, `said once in ${log}:\n${text}`);
    assert.equal(count(/store back after/), 1, `back said once in ${log}:\n${text}`);
    assert.doesNotMatch(text, /too many store errors|store error/, log);
  }
}

/** Opens the store file and checks that indexes and counters agree with the job records. */
async function assertStoreConsistent(db: string): Promise<void> {
  const kv = await Deno.openKv(db);
  try {
    await assertConsistent(kv);
  } finally {
    kv.close();
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

Deno.test({
  ...needs(
    "store faults: workers ride out a store unwritable for longer than the lease (chattr +i), say so once, show in status, and carry on: each job runs once, nothing lost",
    await immutableMissing(),
  ),
  fn: async () => {
    const home = await tempHome({ mode: "file" });
    const db = `${home.home}/queue.db`;
    const { run, json } = storeCli(home, db);
    const frozen = [db, `${db}-wal`];
    let isFrozen = false;
    const pids: number[] = [];
    try {
      assert.equal((await run(["config", "set", "lease-seconds", "2"])).code, 0);
      const ids = ["f1", "f2", "f3", "f4", "f5", "f6"];
      const batch = ids.map((id) => JSON.stringify({ id, command: `sleep 3; echo ${id}` }));
      assert.equal((await cli(home, ["enqueue", "-"], { stdin: batch.join("\n") })).code, 0);
      const workers = await json<{ pid: number; log: string }[]>([
        "worker",
        "start",
        "-n",
        "2",
        "--separate",
      ]);
      pids.push(...workers.map((w) => w.pid));
      await waitFor(async () => (await json<Status>(["status"])).counts.processing === 2, {
        timeoutMs: 20_000,
        what: "both workers to run a job",
      });

      isFrozen = await chattrImmutable(frozen, true);
      assert.ok(isFrozen, "the store and its WAL are immutable");
      const frozenAt = Date.now();
      await waitFor(async () => {
        for (const w of workers) {
          if (!/store unavailable since/.test(await Deno.readTextFile(w.log))) return false;
        }
        return true;
      }, { timeoutMs: 15_000, what: "both workers to log the outage" });
      const during = await json<Status>(["status"]);
      assert.equal(
        during.workers.length,
        2,
        `status lists both workers: ${JSON.stringify(during)}`,
      );
      for (const w of during.workers) {
        assert.match(w.store_unavailable_since ?? "", /^\d{4}-\d\d-\d\dT/, `${w.id} in status`);
      }
      const text = await run(["status"]);
      assert.match(text.stdout, /store unavailable since \d{4}-/, "and in its table");
      assertOneLine(await run(["enqueue", "true"]), /read-only|disk I\/O error/, "enqueue");
      // The fault lasts over three lease periods (2 s each): every lease lapses meanwhile.
      await delay(frozenAt + 7_000 - Date.now());
      assert.ok(await chattrImmutable(frozen, false));
      isFrozen = false;

      await waitFor(async () => {
        const jobs = await json<Listed[]>(["list"]);
        return jobs.length === ids.length && jobs.every((j) => j.state === "completed");
      }, { timeoutMs: 60_000, what: "every job to complete" });
      const jobs = await json<Listed[]>(["list"]);
      for (const job of jobs) {
        assert.deepEqual([job.runs, job.attempts], [1, 1], `${job.id} ran once, to the end`);
      }
      await assertOutageLogged(workers.map((w) => w.log));
      for (const pid of pids) assert.ok(await pidAlive(pid), `worker ${pid} carried on`);
      assert.equal((await json<Status>(["status"])).workers.length, 2);
      assert.equal((await run(["worker", "stop"])).code, 0);
      await assertStoreConsistent(db);
    } finally {
      if (isFrozen) await chattrImmutable(frozen, false);
      for (const pid of pids) killPid(pid);
      await home.cleanup();
    }
  },
});

Deno.test({
  ...needs(
    "store faults: a full disk under the store (a small tmpfs): enqueue exits 1 with one line, the worker waits, and once space returns every committed job runs once",
    await tmpfsMissing(),
  ),
  fn: async () => {
    const home = await tempHome({ mode: "file" });
    const small = `${home.home}/small`;
    const db = `${small}/queue.db`;
    const { run, json } = storeCli(home, db);
    let mounted = false;
    const pids: number[] = [];
    try {
      mounted = await mountTmpfs(small, "1m");
      assert.ok(mounted, "tmpfs mounted");
      const ids = ["d1", "d2", "d3", "d4", "d5"];
      for (const id of ids) {
        assert.equal((await run(["enqueue", "--id", id, `sleep 1; echo ${id}`])).code, 0);
      }
      const [worker] = await json<{ pid: number; log: string }[]>(["worker", "start"]);
      pids.push(worker.pid);
      await waitFor(async () => (await json<Status>(["status"])).counts.processing === 1, {
        timeoutMs: 20_000,
        what: "the worker to run a job",
      });
      // Fill the store's disk to the last byte.
      await new Deno.Command("sh", {
        args: ["-c", `dd if=/dev/zero of="${small}/filler" bs=16k 2>/dev/null; true`],
      }).output();
      const filledAt = Date.now();
      assertOneLine(await run(["enqueue", "--id", "late", "true"]), /disk is full/, "enqueue");
      await waitFor(
        async () => /store unavailable since/.test(await Deno.readTextFile(worker.log)),
        {
          timeoutMs: 20_000,
          what: "the worker to log the full disk",
        },
      );
      const [shown] = (await json<Status>(["status"])).workers;
      assert.ok(shown?.store_unavailable_since, "status shows the worker waiting");
      // Longer than the six errors in a row after which a worker used to give up for good.
      await delay(filledAt + 8_000 - Date.now());
      await Deno.remove(`${small}/filler`);

      await waitFor(async () => {
        const jobs = await json<Listed[]>(["list"]);
        return jobs.filter((j) => j.state === "completed").length === ids.length;
      }, { timeoutMs: 60_000, what: "every committed job to complete" });
      const jobs = await json<Listed[]>(["list"]);
      assert.deepEqual(jobs.map((j) => j.id).sort(), ids, "the refused job is not there");
      for (const job of jobs) assert.equal(job.runs, 1, `${job.id} ran once`);
      await assertOutageLogged([worker.log]);
      assert.ok(await pidAlive(worker.pid), "the worker carried on");
      assert.equal((await run(["worker", "stop"])).code, 0);
      await assertStoreConsistent(db);
    } finally {
      for (const pid of pids) killPid(pid);
      if (mounted) await umount(small);
      await home.cleanup();
    }
  },
});
