/**
 * A KV Connect server that goes away mid-drain: workers wait (Deno's client retries with a
 * capped backoff), say so in their log, and carry on when it is back; a worker killed
 * while the store was down longer than the lease has its job recovered once it is back.
 * The test starts (and kills) its own server, so it runs once, in the file-store pass.
 * @module
 */
import assert from "node:assert/strict";
import { cli, cliJson, killPid, tempHome, waitFor } from "../_helpers/cli.ts";
import { groupMembers, jobGroupsOf } from "../_helpers/procs.ts";
import { needs } from "../_helpers/needs.ts";
import { ownServerOnce, testStoreFor } from "../_helpers/store_mode.ts";

Deno.test({
  ...needs(
    "e2e KV Connect faults: the server killed mid-drain and back after longer than the lease: workers wait and say so, a worker killed meanwhile has its job recovered, every job runs",
    ownServerOnce(),
  ),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "queuectl-remote-faults-" });
    const store = await testStoreFor(dir, "kv_connect");
    const home = await tempHome({ store });
    const pids: number[] = [];
    const groups = new Set<number>();
    try {
      const ok = async (args: string[], stdin?: string) => {
        const result = await cli(home, args, stdin === undefined ? {} : { stdin });
        assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
        return result;
      };
      await ok(["config", "set", "lease-seconds", "2"]);
      await ok(["config", "set", "backoff-base", "1"]);
      const out = `${dir}/ran.txt`;
      const n = 40;
      const lines = Array.from(
        { length: n },
        (_, i) => JSON.stringify({ id: `f${i}`, command: `sleep 0.2; echo f${i} >> ${out}` }),
      );
      await ok(["enqueue", "-"], lines.join("\n"));
      const started = JSON.parse(
        (await ok(["worker", "start", "--count", "2", "--separate", "--json"])).stdout,
      ) as { pid: number; log_file?: string; logFile?: string }[];
      pids.push(...started.map((w) => w.pid));
      const completed = async () =>
        (await cliJson<{ counts: { completed: number } }>(home, ["status"])).counts.completed;
      await waitFor(async () => await completed() >= 5, {
        timeoutMs: 30_000,
        what: "a few jobs to complete before the fault",
      });
      await store.server!.kill();
      const [victim] = pids;
      for (const pgid of await jobGroupsOf(victim)) groups.add(pgid);
      killPid(victim);
      // The outage itself lasts longer than the 2 s lease and the 5 s notice.
      await new Promise((r) => setTimeout(r, 7000));
      await store.server!.restart();
      await waitFor(async () => await completed() === n, {
        timeoutMs: 120_000,
        intervalMs: 500,
        what: `all ${n} jobs completed after the store came back`,
      });
      await waitFor(async () => {
        for (const g of groups) if ((await groupMembers(g)).length > 0) return false;
        return true;
      }, { timeoutMs: 20_000, what: "the killed worker's orphaned job to end" });
      const ran = new Set((await Deno.readTextFile(out)).split("\n").filter((l) => l));
      assert.equal(ran.size, n, "every job ran");
      const logs = await Array.fromAsync(Deno.readDir(`${home.home}/workers`));
      const survivorLog = await Promise.all(
        logs.map((l) => Deno.readTextFile(`${home.home}/workers/${l.name}`)),
      );
      const text = survivorLog.join("");
      assert.match(text, /store "http:\/\/127\.0\.0\.1:\d+" not answering for 5s; waiting for it/);
      assert.match(text, /store "http:\/\/127\.0\.0\.1:\d+" answering again after \d/);
      assert.ok(!text.includes(store.server!.token), "the token is not in the logs");
    } finally {
      for (const pid of pids) killPid(pid);
      await home.cleanup();
      await store.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
