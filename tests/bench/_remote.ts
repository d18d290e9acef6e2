/**
 * The "remote" bench section (issue 13): the same workloads on a local KV file and on a
 * KV Connect server (tests/_helpers/kv_connect_server.ts on this machine, so the network
 * is loopback), side by side: a W2 drain, one `enqueue`, pickup across hosts, an idle
 * worker's requests to the store, and `status` / `list` with 100k jobs stored.
 * @module
 */
import { startKvServer } from "../_helpers/kv_connect_server.ts";
import { jobGet, jobInsertMany } from "../../lib/store/jobs.ts";
import { wakeWorkers } from "../../lib/worker/wake_socket.ts";
import { attemptList } from "../../lib/store/jobs.ts";
import { sleep, waitUntil } from "./_harness.ts";
import {
  benchJob,
  fillStore,
  type Home,
  mixedKindAt,
  q,
  startWorkers,
  stopWorkers,
  type Target,
  withHome,
  withKv,
} from "./_queuectl.ts";
import type { Row } from "./_report.ts";
import type { Ctx } from "./_workloads.ts";

/** How much the section does, quick or full. */
interface RemotePlan {
  drainJobs: number;
  repeats: number;
  enqueueSamples: number;
  pickupSamples: number;
  bigStore: number;
  readSamples: number;
}

function remotePlan(quick: boolean): RemotePlan {
  return quick
    ? {
      drainJobs: 100,
      repeats: 1,
      enqueueSamples: 5,
      pickupSamples: 10,
      bigStore: 10_000,
      readSamples: 3,
    }
    : {
      drainJobs: 300,
      repeats: 3,
      enqueueSamples: 20,
      pickupSamples: 30,
      bigStore: 100_000,
      readSamples: 5,
    };
}

/** How long an idle worker runs before its requests are counted, and for how long. */
const IDLE_RAMP_MS = 20_000;
const IDLE_WINDOW_MS = 30_000;

type Store = "file" | "kv_connect";
const STORES: Store[] = ["file", "kv_connect"];
const LABEL: Record<Store, string> = { file: "local file", kv_connect: "KV Connect" };

/**
 * Runs `fn` with a fresh home on `store`: its own file, or a fresh KV Connect server
 * (stopped afterwards) named by the home's QUEUECTL_DB and token.
 */
async function withStoreHome<T>(
  store: Store,
  fn: (home: Home, server: { requests(): Promise<Record<string, number>> } | null) => Promise<T>,
): Promise<T> {
  if (store === "file") return await withHome((home) => fn(home, null));
  const server = await startKvServer();
  try {
    return await withHome((home) =>
      fn({
        ...home,
        env: { ...home.env, QUEUECTL_DB: server.url, DENO_KV_ACCESS_TOKEN: server.token },
      }, server)
    );
  } finally {
    await server.stop();
  }
}

/** Data path requests a server has served. */
function dataRequests(counts: Record<string, number>): number {
  return (counts["/v2/snapshot_read"] ?? 0) + (counts["/v2/atomic_write"] ?? 0);
}

/** The remote rows: each workload on a local file, then on a KV Connect server. */
export async function remote(ctx: Ctx): Promise<Row[]> {
  const plan = remotePlan(ctx.plan.quick);
  const target = ctx.targets[0];
  const samples = (): Record<Store, number[]> => ({ file: [], kv_connect: [] });
  const drain = samples(), enqueue = samples(), pickup = samples(), status = samples();
  const list = samples();
  const idleRate: number[] = [];
  for (const store of STORES) {
    for (let r = 0; r < plan.repeats; r++) {
      ctx.log(`remote ${LABEL[store]}: W2 drain of ${plan.drainJobs} jobs, 2 workers`);
      drain[store].push(await drainRate(target, store, plan.drainJobs));
    }
    ctx.log(`remote ${LABEL[store]}: ${plan.enqueueSamples} single enqueues`);
    await withStoreHome(store, async (home) => {
      for (let i = 0; i < plan.enqueueSamples; i++) {
        enqueue[store].push((await q(target, home, ["enqueue", "true"])).ms);
      }
    });
    ctx.log(`remote ${LABEL[store]}: pickup of ${plan.pickupSamples} jobs by idle workers`);
    await withStoreHome(store, async (home, server) => {
      const procs = await startWorkers(target, home, { count: 2 });
      try {
        if (server) {
          // Idle: past the lanes' first polls, whose pause grows to its 15 s cap (KV Connect
          // timing); then a window of two caps, so that each periodic task counts whole.
          await sleep(IDLE_RAMP_MS);
          const before = dataRequests(await server.requests());
          await sleep(IDLE_WINDOW_MS);
          idleRate.push(
            (dataRequests(await server.requests()) - before) / (IDLE_WINDOW_MS / 1000) /
              procs.length,
          );
        }
        pickup[store].push(...await pickups(home, plan.pickupSamples));
      } finally {
        await stopWorkers(procs);
      }
    });
    ctx.log(`remote ${LABEL[store]}: status and list with ${plan.bigStore} jobs stored`);
    await withStoreHome(store, async (home) => {
      await withKv(home, (kv) =>
        fillStore(kv, {
          total: plan.bigStore,
          command: "true",
          cwd: home.dir,
          kindAt: mixedKindAt(),
        }));
      for (let i = 0; i < plan.readSamples; i++) {
        status[store].push((await q(target, home, ["status"])).ms);
        list[store].push((await q(target, home, ["list", "--limit", "50"])).ms);
      }
    });
  }
  const deno = target.label;
  const pair = (id: string, workload: string, unit: string, s: Record<Store, number[]>) =>
    STORES.map((store): Row => ({
      id: `${id}${store === "file" ? "f" : "k"}`,
      workload: `${workload}: ${LABEL[store]}`,
      unit,
      queuectl: { [deno]: s[store] },
    }));
  const big = plan.bigStore >= 1000 ? `${plan.bigStore / 1000}k` : String(plan.bigStore);
  return [
    ...pair("R1", `W2 drain, ${plan.drainJobs} jobs, 2 workers`, "jobs/s", drain),
    ...pair("R2", "one `enqueue` (spawn to exit)", "ms", enqueue),
    ...pair(
      "R3",
      "pickup across hosts: commit on host B → job start on host A's idle worker",
      "ms",
      pickup,
    ).map((row) =>
      row.id === "R3k" ? { ...row, target: { op: "<=" as const, value: 100 } } : {
        ...row,
        note: "R3: the local file has one host; its row is the same host woken through the " +
          "socket. On KV Connect the job is inserted by this process (host B) and the " +
          "workers (host A, another QUEUECTL_HOME) are woken by their store watch.",
      }
    ),
    {
      id: "R4k",
      workload: "idle worker: requests to the store per second: KV Connect",
      unit: "req/s",
      queuectl: { [deno]: idleRate },
      target: { op: "<=", value: 2 },
      note: "R4: snapshot reads and atomic writes counted by the server over 30 s, from 20 s " +
        "after the start (the lanes' poll pause has grown to its cap), per worker (2 idle " +
        "workers of 1 lane); the watch is one long-lived request",
    },
    ...pair("R5", `status with ${big} jobs stored`, "ms", status),
    ...pair("R6", `list --limit 50 with ${big} jobs stored`, "ms", list),
  ];
}

/** One W2 drain on `store`: jobs/s from the first start to the last finish. */
async function drainRate(target: Target, store: Store, jobs: number): Promise<number> {
  return await withStoreHome(store, async (home) => {
    await withKv(
      home,
      (kv) => fillStore(kv, { total: jobs, command: "true", cwd: home.dir, kindAt: () => "ready" }),
    );
    const t0 = performance.now();
    const procs = await startWorkers(target, home, { count: 2, drain: true });
    const statuses = await Promise.all(procs.map((p) => p.status));
    if (statuses.some((s) => s.code !== 0)) throw new Error("A draining worker exited non-zero");
    return jobs / ((performance.now() - t0) / 1000);
  });
}

/**
 * Inserts `n` jobs one at a time from this process (another host: its own store handle)
 * while the home's workers idle, and returns each job's start (its `date +%s%N`) minus the
 * time just before its insert commit.
 */
async function pickups(home: Home, n: number): Promise<number[]> {
  const out: number[] = [];
  await withKv(home, async (kv) => {
    for (let i = 0; i < n; i++) {
      await sleep(300 + Math.random() * 300);
      const job = benchJob("ready", "date +%s%N", new Date(), home.dir);
      const t0 = Date.now();
      await jobInsertMany(kv, [job]);
      if (!home.env.QUEUECTL_DB) await wakeWorkers(`${home.dir}/queue.db`);
      await waitUntil(async () => (await jobGet(kv, job.id))?.job.state === "completed", {
        timeoutMs: 15_000,
        intervalMs: 20,
        what: `job ${job.id} to complete`,
      });
      const [attempt] = await attemptList(kv, job.id);
      out.push(Number(BigInt(attempt.output_tail.trim()) / 1000n) / 1000 - t0);
    }
  });
  return out;
}
