/**
 * The workloads of issue 6, each measured on queuectl (every way of running it) and on
 * the peers, returning report rows. Sizes and repeats come from the plan (quick or full).
 * @module
 */
import { countsGet } from "../../lib/store/counts.ts";
import { attemptList, jobGet, jobList } from "../../lib/store/jobs.ts";
import { jobClaimNext } from "../../lib/store/claim.ts";
import { jobLogDir, resolvePaths } from "../../lib/paths.ts";
import {
  clockTicks,
  cpuTicks,
  memMiB,
  run,
  sleep,
  spawn,
  summarize,
  waitUntil,
  withReapedCpu,
} from "./_harness.ts";
import {
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
import {
  floorDrainSeconds,
  floorSpawnMs,
  TSP_MAX_QUEUED,
  tspBlock,
  tspFinishedOk,
  tspQueue,
  withTsp,
} from "./_peers.ts";
import { fmt, type PeerCell, type Row } from "./_report.ts";

/** Sizes and repeats of one bench run. */
export interface Plan {
  quick: boolean;
  w1: { queued: number; warmup: number; samples: number };
  drain: { jobs: number; repeats: number };
  w3: { jobs: number; repeats: number };
  w4: { pending: number; warmup: number; samples: number };
  batch: { jobs: number; repeats: number };
  pickup: { samples: number; gapMs: [number, number]; idleWindowMs: number };
  output: { size: string; repeats: number };
  scale: { jobs: number; warmup: number; samples: number };
  claim: { small: number; big: number; warmup: number; rounds: number; perRound: number };
}

/** The quick plan (under two minutes) and the full one (about ten). */
export function makePlan(quick: boolean): Plan {
  return quick
    ? {
      quick,
      w1: { queued: 1000, warmup: 2, samples: 10 },
      drain: { jobs: 500, repeats: 2 },
      w3: { jobs: 100, repeats: 1 },
      w4: { pending: 100_000, warmup: 1, samples: 5 },
      batch: { jobs: 20_000, repeats: 2 },
      pickup: { samples: 20, gapMs: [250, 450], idleWindowMs: 5000 },
      output: { size: "1G", repeats: 1 },
      scale: { jobs: 100_000, warmup: 1, samples: 5 },
      claim: { small: 1000, big: 100_000, warmup: 20, rounds: 3, perRound: 50 },
    }
    : {
      quick,
      w1: { queued: 1000, warmup: 3, samples: 30 },
      drain: { jobs: 1000, repeats: 3 },
      w3: { jobs: 1000, repeats: 2 },
      w4: { pending: 100_000, warmup: 2, samples: 20 },
      batch: { jobs: 100_000, repeats: 3 },
      pickup: { samples: 100, gapMs: [300, 700], idleWindowMs: 20_000 },
      output: { size: "1G", repeats: 3 },
      scale: { jobs: 1_000_000, warmup: 2, samples: 20 },
      claim: { small: 1000, big: 1_000_000, warmup: 20, rounds: 5, perRound: 60 },
    };
}

/** What every workload gets. */
export interface Ctx {
  plan: Plan;
  targets: Target[];
  tsp: boolean;
  /** Progress line on stderr. */
  log(message: string): void;
}

const NO_TSP: PeerCell = { text: "not installed" };

function perTarget(ctx: Ctx): Record<string, number[]> {
  return Object.fromEntries(ctx.targets.map((t) => [t.label, []]));
}

/** 1000 → "1k", 1000000 → "1M". */
function short(n: number): string {
  return n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n);
}

/** Milliseconds since the epoch of an ISO time stored in a job. */
function at(iso: string | null): number {
  if (!iso) throw new Error("Missing timestamp in a job record");
  return Date.parse(iso);
}

/** W1: one `enqueue` CLI call with 1,000 jobs queued (spawn to exit). */
export async function w1(ctx: Ctx): Promise<Row[]> {
  const { queued, warmup, samples } = ctx.plan.w1;
  const mine = perTarget(ctx);
  for (const target of ctx.targets) {
    ctx.log(`W1 ${target.label}: ${samples} enqueue calls with ${queued} queued`);
    await withHome(async (home) => {
      await withKv(
        home,
        (kv) =>
          fillStore(kv, { total: queued, command: "true", cwd: home.dir, kindAt: () => "ready" }),
      );
      for (let i = 0; i < warmup; i++) await q(target, home, ["enqueue", "true"]);
      for (let i = 0; i < samples; i++) {
        mine[target.label].push((await q(target, home, ["enqueue", "true"])).ms);
      }
    });
  }
  ctx.log("W1 floor: sh -c true");
  const floor: number[] = [];
  for (let i = 0; i < warmup; i++) await floorSpawnMs();
  for (let i = 0; i < samples; i++) floor.push(await floorSpawnMs());
  let tsp: PeerCell = NO_TSP;
  if (ctx.tsp) {
    const tspQueued = Math.min(queued, TSP_MAX_QUEUED - warmup - samples - 5);
    ctx.log(`W1 tsp: ${samples} enqueue calls with ${tspQueued} queued`);
    tsp = await withTsp(async (t) => {
      await tspBlock(t);
      await tspQueue(t, tspQueued);
      const ms: number[] = [];
      for (let i = 0; i < warmup + samples; i++) {
        const r = await run(["tsp", "sh", "-c", "true"], { env: t.env });
        if (i >= warmup) ms.push(r.ms);
      }
      return { samples: ms, note: tspQueued < queued ? `(${tspQueued} queued)` : undefined };
    });
  }
  return [{
    id: "W1",
    workload: `one enqueue CLI call, ${queued.toLocaleString("en-US")} jobs queued`,
    unit: "ms",
    queuectl: mine,
    floor: { samples: floor },
    tsp,
    target: { op: "<=", value: 40 },
    note: "spawn→exit as seen by the harness, for every column; floor = one `sh -c true`; " +
      `tsp holds at most ~${TSP_MAX_QUEUED} queued jobs ("queue full")`,
  }];
}

/**
 * Drains `jobs` queued `true` jobs with `workers` × `concurrency`; returns [steady, wall]
 * jobs/s (NaN for no jobs) and the CPU (ms) the workers and the jobs' processes used.
 */
async function drainOnce(
  target: Target,
  jobs: number,
  workers: number,
  concurrency: number,
): Promise<[number, number, number]> {
  return await withHome(async (home) => {
    await withKv(
      home,
      (kv) => fillStore(kv, { total: jobs, command: "true", cwd: home.dir, kindAt: () => "ready" }),
    );
    const t0 = performance.now();
    const [statuses, cpuMs] = await withReapedCpu(async () => {
      const procs = await startWorkers(target, home, { count: workers, concurrency, drain: true });
      const killer = setTimeout(() => procs.forEach((p) => p.child.kill("SIGKILL")), 300_000);
      const statuses = await Promise.all(procs.map((p) => p.status));
      clearTimeout(killer);
      return statuses;
    });
    const wallS = (performance.now() - t0) / 1000;
    if (statuses.some((s) => s.code !== 0)) throw new Error("A draining worker exited non-zero");
    if (jobs === 0) return [NaN, NaN, cpuMs];
    return [await drainedRate(home, jobs), jobs / wallS, cpuMs];
  });
}

/**
 * The rate at which `jobs` jobs ran, all completed: first job start → last job finish, from
 * the job records (so the start-up of the processes that ran them is left out).
 */
async function drainedRate(home: Home, jobs: number): Promise<number> {
  const done = await withKv(home, (kv) => jobList(kv, { state: "completed", limit: jobs }));
  if (done.length !== jobs) throw new Error(`Drained ${done.length} of ${jobs} jobs`);
  const first = Math.min(...done.map((j) => at(j.started_at)));
  const last = Math.max(...done.map((j) => at(j.finished_at)));
  return jobs / ((last - first) / 1000);
}

/** How a bare lane starts jobs: `setsid --wait sh -c`, plain `sh -c`, posix_spawn via FFI. */
type BareMode = "group" | "plain" | "ffi";

/** The bare worker lane of W2e, W2p and W2f (see its module comment). */
const BARE_LANE = new URL("./_bare_lane.ts", import.meta.url).pathname;

/**
 * Drains `jobs` queued `true` jobs with two bare lanes (`_bare_lane.ts`), each its own
 * process as W2's workers are; returns [jobs/s (as drainedRate), CPU ms of the lanes and
 * their jobs' processes] (NaN jobs/s for no jobs).
 */
async function bareOnce(jobs: number, mode: BareMode): Promise<[number, number]> {
  return await withHome(async (home) => {
    await withKv(
      home,
      (kv) => fillStore(kv, { total: jobs, command: "true", cwd: home.dir, kindAt: () => "ready" }),
    );
    const argv = [Deno.execPath(), "run", "--quiet", "--unstable-kv", "-A", BARE_LANE, home.dir];
    const [statuses, cpuMs] = await withReapedCpu(() =>
      Promise.all(
        [0, 1].map(() => spawn([...argv, mode], { env: home.env, cwd: home.dir }).status),
      )
    );
    if (statuses.some((s) => s.code !== 0)) throw new Error("A bare lane exited non-zero");
    return [jobs === 0 ? NaN : await drainedRate(home, jobs), cpuMs];
  });
}

/** Runs the fork/exec floor over `jobs` (see floorDrainSeconds); returns [jobs/s, CPU ms per job]. */
async function floorOnce(jobs: number, group: boolean): Promise<[number, number]> {
  const [seconds, cpuMs] = await withReapedCpu(() => floorDrainSeconds(jobs, group));
  return [jobs / seconds, cpuMs / jobs];
}

/** W2: drain 1,000 queued `true` jobs with 2 workers. */
export async function w2(ctx: Ctx): Promise<Row[]> {
  const { jobs, repeats } = ctx.plan.drain;
  const steady = perTarget(ctx), wall = perTarget(ctx), single = perTarget(ctx);
  const cpu = perTarget(ctx);
  for (const target of ctx.targets) {
    // What two workers cost to start and stop, taken out of the CPU per job below.
    ctx.log(`W2 ${target.label}: 2 workers draining an empty store (start-up CPU)`);
    const idleCpu = (await drainOnce(target, 0, 2, 1))[2];
    for (let r = 0; r < repeats; r++) {
      ctx.log(`W2 ${target.label}: drain ${jobs} jobs, 2 workers (${r + 1}/${repeats})`);
      const [s, w, c] = await drainOnce(target, jobs, 2, 1);
      steady[target.label].push(s);
      wall[target.label].push(w);
      cpu[target.label].push((c - idleCpu) / jobs);
    }
    for (let r = 0; r < repeats; r++) {
      ctx.log(`W2b ${target.label}: drain ${jobs} jobs, 1 worker --concurrency 2`);
      single[target.label].push((await drainOnce(target, jobs, 1, 2))[0]);
    }
  }
  const floor: number[] = [], floorCpu: number[] = [];
  const grouped: number[] = [], groupedCpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    ctx.log(`W2 floor: xargs -P2 over ${jobs}, then with setsid`);
    const [rate, perJob] = await floorOnce(jobs, false);
    floor.push(rate);
    floorCpu.push(perJob);
    const [groupRate, groupPerJob] = await floorOnce(jobs, true);
    grouped.push(groupRate);
    groupedCpu.push(groupPerJob);
  }
  // The ceiling: the same drain by two bare lanes, with and without a process group per job.
  ctx.log("W2e: 2 bare lanes on an empty store (start-up CPU)");
  const bareIdleCpu = (await bareOnce(0, "group"))[1];
  const bare = { group: [] as number[], plain: [] as number[], ffi: [] as number[] };
  const bareCpu = { group: [] as number[], plain: [] as number[], ffi: [] as number[] };
  for (let r = 0; r < repeats; r++) {
    for (const mode of ["group", "plain", "ffi"] as const) {
      ctx.log(`W2e: drain ${jobs} jobs, 2 bare lanes, ${mode} (${r + 1}/${repeats})`);
      const [rate, cpuMs] = await bareOnce(jobs, mode);
      bare[mode].push(rate);
      bareCpu[mode].push((cpuMs - bareIdleCpu) / jobs);
    }
  }
  const deno = ctx.targets[0].label;
  let tsp: PeerCell = NO_TSP;
  if (ctx.tsp) {
    const n = Math.min(jobs, TSP_MAX_QUEUED);
    const rates: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ctx.log(`W2 tsp: drain ${n} queued jobs (${r + 1}/${repeats})`);
      rates.push(
        await withTsp(async (t) => {
          const [a, b] = await tspBlock(t);
          const last = await tspQueue(t, n);
          const { ms } = await t.sh(
            `tsp -k ${a}; tsp -k ${b}; tsp -w ${last}; tsp -w ${last - 1}`,
          );
          const ok = await tspFinishedOk(t);
          if (ok < n) throw new Error(`tsp finished ${ok} of ${n} jobs`);
          return n / (ms / 1000);
        }),
      );
    }
    tsp = { samples: rates, note: n < jobs ? `(${n} jobs: its queue limit)` : undefined };
  }
  const floorCell: PeerCell = { samples: floor };
  return [
    {
      id: "W2",
      workload: `drain ${jobs.toLocaleString("en-US")} queued \`true\` jobs, 2 workers`,
      unit: "jobs/s",
      queuectl: steady,
      floor: floorCell,
      tsp,
      target: { op: ">=", value: 1, of: "tsp" },
      note:
        "two `worker run --drain` processes (workers' flags, so jobs start by posix_spawn); rate over first job start → last job finish " +
        "(from the job records, so process start-up is excluded); tsp: blockers killed → last " +
        "job done; floor: `seq N | xargs -P2 -n1 sh -c true` end to end",
    },
    {
      id: "W2w",
      workload: "W2 end to end (incl. 2 × worker start-up and drain exit)",
      unit: "jobs/s",
      queuectl: wall,
      floor: floorCell,
      tsp,
    },
    {
      id: "W2b",
      workload: "W2 with 1 process, 2 lanes (`worker run --concurrency 2`: what " +
        "`worker start --count 2` starts)",
      unit: "jobs/s",
      queuectl: single,
      floor: floorCell,
      tsp,
    },
    {
      id: "W2g",
      workload: "W2 against the floor with a process group per job, as queuectl runs jobs",
      unit: "jobs/s",
      queuectl: steady,
      floor: { samples: grouped },
      tsp,
      target: { op: ">=", value: 1.2, of: "floor" },
      note: "floor: `seq N | xargs -P2 -n1 setsid --wait sh -c true`: a process group per job " +
        "the way a shell gets one (queuectl's posix_spawn with POSIX_SPAWN_SETSID needs no " +
        "extra exec of setsid; either way it can kill a job's whole tree)",
    },
    {
      id: "W2c",
      workload: "W2 CPU per job: workers and job processes (queuectl) / xargs and sh (floor)",
      unit: "ms CPU",
      queuectl: cpu,
      floor: { samples: groupedCpu },
      target: { op: "<=", value: 0.7, of: "floor" },
      note: "user+system CPU of the reaped processes over the drain (cutime+cstime of the " +
        "harness), less two workers' start-up and exit, ÷ jobs; 2 cores give 2,000 ms of " +
        "CPU a second, so 1,000 jobs/s needs under 2 ms per job. Floor: xargs with setsid, as " +
        `W2g; without setsid it takes ${fmt(summarize(floorCpu).median)} ms per job`,
    },
    {
      id: "W2e",
      workload: "W2's ceiling: 2 bare lanes doing only what every job needs, " +
        "`setsid --wait sh -c`",
      unit: "jobs/s",
      queuectl: { [deno]: bare.group },
      floor: { samples: grouped },
      note: "tests/bench/_bare_lane.ts, two processes on one store, queuectl's own store " +
        "functions: spawn the job with both pipes read to the end, read the next job while it " +
        "runs, one commit that records the finish (record, indexes, counters, attempt, " +
        "statistics) and claims the next. No lease renewal, timeout, log files, events, " +
        "cancel or stop requests, dependents or rescuer. Rate as W2 (from the job records); " +
        `CPU per job (lanes and jobs, as W2c): ${fmt(summarize(bareCpu.group).median)} ms. ` +
        "Floor: xargs with setsid, as W2g",
    },
    {
      id: "W2p",
      workload: "the bare lanes of W2e without a process group per job: plain `sh -c`",
      unit: "jobs/s",
      queuectl: { [deno]: bare.plain },
      floor: floorCell,
      note: `CPU per job (as W2c): ${fmt(summarize(bareCpu.plain).median)} ms. Floor: plain ` +
        "xargs, as W2",
    },
    {
      id: "W2f",
      workload: "the bare lanes of W2e starting jobs as queuectl's workers do: `posix_spawn` " +
        "with POSIX_SPAWN_SETSID through FFI",
      unit: "jobs/s",
      queuectl: { [deno]: bare.ffi },
      floor: { samples: grouped },
      note: `CPU per job (as W2c): ${fmt(summarize(bareCpu.ffi).median)} ms. Floor: xargs ` +
        "with setsid, as W2g",
    },
  ];
}

/** W3: enqueue-and-run `jobs` jobs, one CLI call each, with 2 idle workers waiting. */
export async function w3(ctx: Ctx): Promise<Row[]> {
  const { jobs, repeats } = ctx.plan.w3;
  const mine = perTarget(ctx);
  for (const target of ctx.targets) {
    for (let r = 0; r < repeats; r++) {
      ctx.log(`W3 ${target.label}: ${jobs} enqueue calls with 2 workers (${r + 1}/${repeats})`);
      mine[target.label].push(
        await withHome(async (home) => {
          const procs = await startWorkers(target, home, { count: 2 });
          try {
            const t0 = Date.now();
            for (let i = 0; i < jobs; i++) await q(target, home, ["enqueue", "true"]);
            return await withKv(home, async (kv) => {
              await waitUntil(async () => (await countsGet(kv)).completed >= jobs, {
                timeoutMs: 120_000,
                intervalMs: 50,
                what: `${jobs} jobs to complete`,
              });
              const done = await jobList(kv, { state: "completed", limit: jobs });
              const last = Math.max(...done.map((j) => at(j.finished_at)));
              return jobs / ((last - t0) / 1000);
            });
          } finally {
            await stopWorkers(procs);
          }
        }),
      );
    }
  }
  const floor: number[] = [];
  for (let r = 0; r < repeats; r++) floor.push(jobs / await floorDrainSeconds(jobs));
  let tsp: PeerCell = NO_TSP;
  if (ctx.tsp) {
    const rates: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ctx.log(`W3 tsp: ${jobs} enqueue calls (${r + 1}/${repeats})`);
      rates.push(
        await withTsp(async (t) => {
          const { ms } = await t.sh(
            `for i in $(seq ${jobs}); do tsp sh -c true >/dev/null; done; ` +
              `tsp -w ${jobs - 1}; tsp -w ${jobs - 2}`,
          );
          const ok = await tspFinishedOk(t);
          if (ok < jobs) throw new Error(`tsp finished ${ok} of ${jobs} jobs`);
          return jobs / (ms / 1000);
        }),
      );
    }
    tsp = { samples: rates };
  }
  return [{
    id: "W3",
    workload: `enqueue-and-run ${jobs.toLocaleString("en-US")} jobs, one CLI call each`,
    unit: "jobs/s",
    queuectl: mine,
    floor: { samples: floor },
    tsp,
    note: "sequential `enqueue true` calls from the harness with 2 idle `worker run` " +
      "processes; first call → last job finished; tsp: a shell loop of `tsp sh -c true`",
  }];
}

/** W4: `status` with 100,000 pending jobs; also times the in-process store fill. */
export async function w4(ctx: Ctx, after?: (home: Home) => Promise<Row[]>): Promise<Row[]> {
  const { pending, warmup, samples } = ctx.plan.w4;
  const mine = perTarget(ctx);
  const rows: Row[] = [];
  await withHome(async (home) => {
    ctx.log(`W4: writing ${pending} pending jobs in-process`);
    const rate = await withKv(
      home,
      (kv) =>
        fillStore(kv, { total: pending, command: "true", cwd: home.dir, kindAt: () => "ready" }),
    );
    for (const target of ctx.targets) {
      ctx.log(`W4 ${target.label}: ${samples} status calls`);
      for (let i = 0; i < warmup; i++) await q(target, home, ["status"]);
      for (let i = 0; i < samples; i++) {
        mine[target.label].push((await q(target, home, ["status"])).ms);
      }
    }
    rows.push({
      id: "W4",
      workload: `status with ${pending.toLocaleString("en-US")} pending jobs`,
      unit: "ms",
      queuectl: mine,
      tsp: { text: `cannot hold them (queue full at ~${TSP_MAX_QUEUED})` },
      target: { op: "<=", value: 50 },
      note: "target borrowed from the 1M-job status target; CLI spawn→exit",
    }, {
      id: "fill",
      workload: "in-process jobInsertMany (bench store preparation)",
      unit: "jobs/s",
      queuectl: { [ctx.targets[0].label]: [rate] },
      note: "chunks of 5,000 jobs, 4 calls in flight; not a CLI figure",
    });
    if (after) rows.push(...await after(home));
  });
  return rows;
}

/** Batch enqueue: `enqueue - < N.ndjson`. */
export async function batch(ctx: Ctx): Promise<Row[]> {
  const { jobs, repeats } = ctx.plan.batch;
  const ndjson = new TextEncoder().encode('{"command":"true"}\n'.repeat(jobs));
  const mine = perTarget(ctx);
  for (const target of ctx.targets) {
    for (let r = 0; r < repeats; r++) {
      ctx.log(`batch ${target.label}: enqueue - < ${jobs} lines (${r + 1}/${repeats})`);
      await withHome(async (home) => {
        const res = await q(target, home, ["enqueue", "-"], { stdin: ndjson });
        const ids = res.stdout.trim().split("\n").length;
        if (ids !== jobs) throw new Error(`enqueue - printed ${ids} ids for ${jobs} jobs`);
        mine[target.label].push(jobs / (res.ms / 1000));
      });
    }
  }
  return [{
    id: "B",
    workload: `batch enqueue \`enqueue - < ${short(jobs)}.ndjson\``,
    unit: "jobs/s",
    queuectl: mine,
    floor: { text: "–" },
    tsp: { text: "no batch enqueue" },
    target: { op: ">=", value: 20_000 },
    note: `one CLI call, spawn→exit, stdin written by the harness${
      ctx.plan.quick ? "; quick run: 20k jobs instead of 100k" : ""
    }`,
  }];
}

/**
 * Idle workers: CPU over a window from /proc/<pid>/stat, VmRSS, then pickup latency:
 * enqueue `date +%s%N` with both workers idle and compare the job's printed start time
 * (and its claim time) with its created_at.
 */
export async function pickup(ctx: Ctx): Promise<Row[]> {
  const { samples, gapMs, idleWindowMs } = ctx.plan.pickup;
  const ticksPerS = await clockTicks();
  const start = perTarget(ctx), claimed = perTarget(ctx), cpu = perTarget(ctx);
  const rss = perTarget(ctx);
  for (const target of ctx.targets) {
    await withHome(async (home) => {
      const procs = await startWorkers(target, home, { count: 2 });
      try {
        await sleep(1000); // past the first idle backoff steps
        ctx.log(`idle ${target.label}: CPU of 2 idle workers over ${idleWindowMs / 1000} s`);
        const t0 = performance.now();
        const before = procs.map((p) => cpuTicks(p.pid));
        await sleep(idleWindowMs);
        const seconds = (performance.now() - t0) / 1000;
        procs.forEach((p, i) => {
          cpu[target.label].push(((cpuTicks(p.pid) - before[i]) / ticksPerS / seconds) * 100);
          rss[target.label].push(memMiB(p.pid, "VmRSS"));
        });
        ctx.log(`pickup ${target.label}: ${samples} jobs enqueued one at a time`);
        await withKv(home, async (kv) => {
          for (let i = 0; i < samples; i++) {
            await sleep(gapMs[0] + Math.random() * (gapMs[1] - gapMs[0]));
            const id = (await q(target, home, ["enqueue", "date +%s%N"])).stdout.trim();
            await waitUntil(async () => (await jobGet(kv, id))?.job.state === "completed", {
              timeoutMs: 15_000,
              intervalMs: 10,
              what: `job ${id} to complete`,
            });
            const job = (await jobGet(kv, id))!.job;
            const [attempt] = await attemptList(kv, id);
            const ns = BigInt(attempt.output_tail.trim());
            const startedMs = Number(ns / 1000n) / 1000;
            start[target.label].push(startedMs - at(job.created_at));
            claimed[target.label].push(at(job.started_at) - at(job.created_at));
          }
        });
      } finally {
        await stopWorkers(procs);
      }
    });
  }
  const what = "enqueue (job created_at) → job process start (its `date +%s%N`)";
  return [
    {
      id: "P50",
      workload: `pickup latency, 2 idle workers: ${what}`,
      unit: "ms",
      queuectl: start,
      target: { op: "<=", value: 50 },
      note: `${samples} jobs, one at a time, ${gapMs[0]}–${gapMs[1]} ms apart so the workers ` +
        "are in their idle wait; the enqueue (with the README's `--allow-net`) wakes them " +
        "through their sockets after its commit, and created_at is set just before that " +
        "commit. The first job is also the first of its queue the workers see: " +
        ctx.targets.map((t) => `${fmt(start[t.label][0])} ms (${t.label})`).join(", "),
    },
    {
      id: "P95",
      workload: "pickup latency (same samples)",
      unit: "ms",
      stat: "p95",
      queuectl: start,
      target: { op: "<=", value: 150 },
    },
    {
      id: "Pc",
      workload: "enqueue → claimed (job started_at − created_at)",
      unit: "ms",
      queuectl: claimed,
    },
    {
      id: "CPU",
      workload: "idle worker CPU (utime+stime over the window)",
      unit: "% of a core",
      queuectl: cpu,
      target: { op: "<", value: 1 },
      note: `one sample per worker over ${idleWindowMs / 1000} s; ${ticksPerS} ticks/s`,
    },
    {
      id: "RSS",
      workload: "idle `worker run` VmRSS",
      unit: "MiB",
      queuectl: rss,
      target: { op: "<=", value: 60 },
    },
  ];
}

/** A worker running `head -c 1G /dev/zero`: its peak RSS (VmHWM), and the log's size. */
export async function output(ctx: Ctx): Promise<Row[]> {
  const { size, repeats } = ctx.plan.output;
  const hwm = perTarget(ctx);
  const logs: Record<string, string[]> = {}, secs: Record<string, string[]> = {};
  for (const target of ctx.targets) {
    logs[target.label] = [];
    secs[target.label] = [];
    for (let r = 0; r < repeats; r++) {
      ctx.log(`output ${target.label}: a job printing ${size} (${r + 1}/${repeats})`);
      await withHome(async (home) => {
        const procs = await startWorkers(target, home, { count: 1 });
        try {
          const t0 = performance.now();
          const id = (await q(target, home, ["enqueue", `head -c ${size} /dev/zero`])).stdout
            .trim();
          await withKv(
            home,
            (kv) =>
              waitUntil(async () => (await jobGet(kv, id))?.job.state === "completed", {
                timeoutMs: 300_000,
                intervalMs: 100,
                what: `the ${size}B job to complete`,
              }),
          );
          const seconds = (performance.now() - t0) / 1000;
          hwm[target.label].push(memMiB(procs[0].pid, "VmHWM"));
          const dir = jobLogDir(resolvePaths({ QUEUECTL_HOME: home.dir }).logDir, id);
          let bytes = 0;
          for (const e of Deno.readDirSync(dir)) bytes += Deno.statSync(`${dir}/${e.name}`).size;
          logs[target.label].push((bytes / 2 ** 20).toFixed(2));
          secs[target.label].push(seconds.toFixed(1));
        } finally {
          await stopWorkers(procs);
        }
      });
    }
  }
  return [{
    id: "OUT",
    workload: `worker running a job that prints ${size.replace("G", " GiB")}: VmHWM`,
    unit: "MiB",
    queuectl: hwm,
    target: { op: "<=", value: 80 },
    note: "peak RSS of the worker process (not the job); log on disk (cap: max-log-bytes, " +
      "10 MiB by default) and time per run: " +
      ctx.targets.map((t) =>
        `${t.label} ${logs[t.label].join(", ")} MiB in ${secs[t.label].join(", ")} s`
      ).join("; "),
  }];
}

/** Scale: `status` and `list --state pending --limit 20` with N jobs in mixed states. */
export async function scale(ctx: Ctx): Promise<Row[]> {
  const { jobs, warmup, samples } = ctx.plan.scale;
  const status = perTarget(ctx), list = perTarget(ctx);
  await withHome(async (home) => {
    ctx.log(`scale: writing ${jobs} jobs in mixed states in-process`);
    await withKv(
      home,
      (kv) => fillStore(kv, { total: jobs, command: "true", cwd: home.dir, kindAt: mixedKindAt() }),
    );
    for (const target of ctx.targets) {
      ctx.log(`scale ${target.label}: status and list, ${samples} calls each`);
      const listArgs = ["list", "--state", "pending", "--limit", "20"];
      for (let i = 0; i < warmup; i++) {
        await q(target, home, ["status"]);
        await q(target, home, listArgs);
      }
      for (let i = 0; i < samples; i++) {
        status[target.label].push((await q(target, home, ["status"])).ms);
        list[target.label].push((await q(target, home, listArgs)).ms);
      }
    }
  });
  const size = `${jobs.toLocaleString("en-US")} jobs (mixed states)`;
  const quick = ctx.plan.quick ? "; quick run: 100k instead of 1M" : "";
  return [
    {
      id: "S1",
      workload: `status, ${size}`,
      unit: "ms",
      queuectl: status,
      target: { op: "<=", value: 50 },
      note: "55% completed, 20% ready, 5% delayed, 5% failed awaiting retry, 8% dead, " +
        `7% cancelled, 20 processing; CLI spawn→exit${quick}`,
    },
    {
      id: "S2",
      workload: `list --state pending --limit 20, ${size}`,
      unit: "ms",
      queuectl: list,
      target: { op: "<=", value: 60 },
    },
  ];
}

/**
 * Claim cost in-process: jobClaimNext against a store with `small` pending jobs and one
 * with `big` (the home given, or a new one), alternating rounds; each claim timed alone.
 */
export async function claim(ctx: Ctx, bigHome?: Home): Promise<Row[]> {
  const { small, big, warmup, rounds, perRound } = ctx.plan.claim;
  const label = ctx.targets[0].label;
  const measure = async (kv: Deno.Kv, n: number): Promise<number[]> => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await jobClaimNext(kv, {
        workerId: "w-bench",
        leaseSeconds: 3600,
        now: new Date(),
      });
      ms.push(performance.now() - t0);
      if (r.kind !== "claimed") throw new Error(`Claim returned ${r.kind}`);
    }
    return ms;
  };
  const withBig = <T>(fn: (home: Home) => Promise<T>): Promise<T> =>
    bigHome ? fn(bigHome) : withHome(async (home) => {
      ctx.log(`claim: writing ${big} pending jobs in-process`);
      await withKv(
        home,
        (kv) =>
          fillStore(kv, { total: big, command: "true", cwd: home.dir, kindAt: () => "ready" }),
      );
      return await fn(home);
    });
  const smallMs: number[] = [], bigMs: number[] = [], ratios: number[] = [];
  await withHome((smallHome) =>
    withBig(async (home) => {
      await withKv(smallHome, (kv) =>
        fillStore(kv, {
          total: small,
          command: "true",
          cwd: smallHome.dir,
          kindAt: () => "ready",
        }));
      ctx.log(`claim: ${rounds} rounds of ${perRound} claims at ${small} and ${big} pending`);
      await withKv(smallHome, (kvSmall) =>
        withKv(home, async (kvBig) => {
          await measure(kvSmall, warmup);
          await measure(kvBig, warmup);
          for (let r = 0; r < rounds; r++) {
            const a = await measure(kvSmall, perRound);
            const b = await measure(kvBig, perRound);
            smallMs.push(...a);
            bigMs.push(...b);
            ratios.push(summarize(b).median / summarize(a).median);
          }
        }));
    })
  );
  return [
    {
      id: "C1k",
      workload: `claim cost, ${small.toLocaleString("en-US")} pending (jobClaimNext)`,
      unit: "ms",
      queuectl: { [label]: smallMs },
      note: "in-process, one claim at a time on a store no process is writing to",
    },
    {
      id: "C1M",
      workload: `claim cost, ${big.toLocaleString("en-US")} pending (jobClaimNext)`,
      unit: "ms",
      queuectl: { [label]: bigMs },
      note: ctx.plan.quick ? "quick run: 100k pending (the W4 store) instead of 1M" : undefined,
    },
    {
      id: "Cx",
      workload: `claim cost ratio ${short(big)} ÷ ${short(small)} pending (per round)`,
      unit: "×",
      queuectl: { [label]: ratios },
      target: { op: "<=", value: 1.5 },
    },
  ];
}

/** Runs every target a few times (enqueue, status, a drain) so caches are warm before timing. */
export async function warmUp(ctx: Ctx): Promise<void> {
  for (const target of ctx.targets) {
    ctx.log(`warm-up ${target.label}`);
    await withHome(async (home) => {
      for (let i = 0; i < 2; i++) await q(target, home, ["enqueue", "true"]);
      await q(target, home, ["status"]);
      const p = spawn([...target.argv, "worker", "run", "--drain"], {
        env: home.env,
        cwd: home.dir,
      });
      await p.status;
    });
  }
}
