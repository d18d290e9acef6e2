/**
 * Many hosts, one queue: two "hosts" (each its own QUEUECTL_HOME and host name, no shared
 * file) on one KV Connect server. `worker stop` and `worker status` from one reach the
 * other's workers through the store, `logs` and `logs --follow` show a run on the other
 * host, and a drain while workers are SIGKILLed loses nothing. These tests start their own
 * server, so they run once, in the suite's file-store pass.
 * @module
 */
import assert from "node:assert/strict";
import {
  cli,
  cliJson,
  killPid,
  pidAlive,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { groupMembers, jobGroupsOf } from "../_helpers/procs.ts";
import { needs } from "../_helpers/needs.ts";
import { ownServerOnce, testStoreFor } from "../_helpers/store_mode.ts";
import { attemptList } from "../../lib/store/jobs.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two hosts on one fresh KV Connect server; `stop()` ends everything. */
async function twoHosts() {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-hosts-" });
  const store = await testStoreFor(dir, "kv_connect");
  const a = await tempHome({ store });
  const b = await tempHome({ store });
  a.env.QUEUECTL_HOSTNAME = "host-a";
  b.env.QUEUECTL_HOSTNAME = "host-b";
  return {
    a,
    b,
    store,
    stop: async () => {
      await a.cleanup();
      await b.cleanup();
      await store.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function ok(home: TempHome, args: string[], stdin?: string) {
  const result = await cli(home, args, stdin === undefined ? {} : { stdin });
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result;
}

interface WorkerJson {
  id: string;
  pid: number;
  host: string;
}

Deno.test({
  ...needs(
    "e2e many hosts: worker status and worker stop from host B reach host A's workers; logs and logs --follow on B show a run on A",
    ownServerOnce(),
  ),
  fn: async () => {
    const { a, b, stop } = await twoHosts();
    try {
      await ok(a, ["worker", "start", "--count", "1", "--queue", "on-a"]);
      await ok(b, ["worker", "start", "--count", "1", "--queue", "on-b"]);
      const seen = await cliJson<WorkerJson[]>(b, ["worker", "status"]);
      assert.deepEqual(seen.map((w) => w.host).sort(), ["host-a", "host-b"]);
      const onA = seen.find((w) => w.host === "host-a")!;

      // A run on A, followed from B while it prints, then read again from B.
      const command = "for i in 1 2 3 4 5; do echo line-$i; sleep 0.3; done; echo oops >&2";
      await ok(b, ["enqueue", JSON.stringify({ id: "slow", command, queue: "on-a" })]);
      const followed = await ok(b, ["logs", "slow", "--follow"]);
      assert.equal(followed.stdout, "line-1\nline-2\nline-3\nline-4\nline-5\n");
      assert.equal((await ok(b, ["logs", "slow"])).stdout, followed.stdout);
      assert.equal((await ok(b, ["logs", "slow", "--stderr"])).stdout, "oops\n");
      const big = "head -c 200000 /dev/zero | tr '\\0' x";
      await ok(b, ["enqueue", JSON.stringify({ id: "big", command: big, queue: "on-a" })]);
      await waitFor(
        async () => (await cliJson<{ state: string }>(b, ["show", "big"])).state === "completed",
        {
          timeoutMs: 20_000,
          what: "the big job to complete on A",
        },
      );
      assert.equal((await ok(b, ["logs", "big"])).stdout, "x".repeat(200_000));
      assert.equal(await Deno.stat(`${b.home}/logs`).then(() => true, () => false), false);

      // B stops every worker, A's included, through the store.
      const stopped = await ok(b, ["worker", "stop"]);
      assert.match(stopped.stdout, /host-a/);
      await waitFor(async () => !await pidAlive(onA.pid), {
        timeoutMs: 20_000,
        what: "host A's worker to exit",
      });
      assert.deepEqual(await cliJson(a, ["worker", "status"]), []);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  ...needs(
    "e2e many hosts: two hosts drain 150 jobs while workers are SIGKILLed: none lost, no second run without a lost one",
    ownServerOnce(),
  ),
  fn: async () => {
    const { a, b, store, stop } = await twoHosts();
    const pids = new Set<number>();
    const groups = new Set<number>();
    const outDir = await Deno.makeTempDir({ prefix: "queuectl-hosts-out-" });
    const out = `${outDir}/ran.txt`;
    const kv = await store.open();
    try {
      await ok(a, ["config", "set", "lease-seconds", "2"]);
      await ok(a, ["config", "set", "backoff-base", "1"]);
      const n = 150;
      const ids = Array.from({ length: n }, (_, i) => `h${i}`);
      const lines = ids.map((id) =>
        JSON.stringify({ id, command: `sleep 0.05; echo ${id} >> ${out}`, max_retries: 9 })
      );
      await ok(b, ["enqueue", "-"], lines.join("\n"));
      const live = new Map<number, TempHome>();
      const start = async (home: TempHome) => {
        const result = await ok(home, ["worker", "start", "--count", "1", "--json"]);
        for (const w of JSON.parse(result.stdout) as { pid: number }[]) {
          pids.add(w.pid);
          live.set(w.pid, home);
        }
      };
      await Promise.all([start(a), start(a), start(b), start(b)]);
      let kills = 0;
      let done = false;
      const chaos = (async () => {
        while (!done && kills < 8) {
          await sleep(700); // the chaos cadence itself, not a wait for a condition
          const [victim, home] = [...live][Math.floor(Math.random() * live.size)];
          for (const pgid of await jobGroupsOf(victim)) groups.add(pgid);
          killPid(victim);
          live.delete(victim);
          kills++;
          await start(home);
        }
      })();
      try {
        await waitFor(
          async () =>
            (await cliJson<{ counts: { completed: number } }>(a, ["status"])).counts
              .completed === n,
          { timeoutMs: 180_000, intervalMs: 500, what: `all ${n} jobs completed` },
        );
      } finally {
        done = true;
        await chaos;
      }
      for (const pid of pids) killPid(pid);
      await waitFor(async () => {
        for (const g of groups) if ((await groupMembers(g)).length > 0) return false;
        return true;
      }, { timeoutMs: 20_000, what: "orphaned jobs of killed workers to end" });
      const ran = new Map<string, number>();
      for (const line of (await Deno.readTextFile(out)).split("\n")) {
        if (line) ran.set(line, (ran.get(line) ?? 0) + 1);
      }
      assert.deepEqual([...ran.keys()].sort(), [...ids].sort(), "every job ran: none lost");
      let twice = 0;
      const hosts = new Set<string>();
      for (const id of ids) {
        const history = await attemptList(kv, id);
        for (const attempt of history) if (attempt.host) hosts.add(attempt.host); // lost: ""
        const lost = history.filter((h) => h.outcome.kind === "lost").length;
        const times = ran.get(id)!;
        if (times > 1) twice++;
        const story = JSON.stringify(history.map((h) => [h.host, h.outcome.kind]));
        assert.ok(times <= 1 + lost, `${id} ran ${times} times with ${lost} lost: ${story}`);
      }
      assert.deepEqual([...hosts].sort(), ["host-a", "host-b"], "both hosts ran jobs");
      console.log(
        `many hosts: ${kills} workers killed, ${twice} jobs ran twice (each after a lost run)`,
      );
    } finally {
      kv.close();
      for (const pid of pids) killPid(pid);
      await stop();
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
    }
  },
});
