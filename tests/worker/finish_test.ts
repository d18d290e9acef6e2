import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { resolvePaths } from "../../lib/paths.ts";
import { claimCandidates, jobClaimNext } from "../../lib/store/claim.ts";
import { dependentsMarkerGet, type JobEntry, jobInsertMany } from "../../lib/store/jobs.ts";
import { cancelKey, STATS_LANE_PREFIX } from "../../lib/store/keys.ts";
import { cancelRequestPut } from "../../lib/store/requests.ts";
import { laneStatsRollUp, statsRead } from "../../lib/store/stats.ts";
import { claimOptionsFor } from "../../lib/worker/claims.ts";
import type { WorkerContext } from "../../lib/worker/context.ts";
import { finishCommit } from "../../lib/worker/finish.ts";
import { attemptRecord } from "../../lib/worker/run_job.ts";
import { workerContext } from "../../lib/worker/worker.ts";
import { assertConsistent, makeJob, tempKv } from "../store/_kv.ts";

const config = defaultConfig();

/** Mutations and checks of each commit made through the returned store. */
interface CommitShape {
  mutations: number;
  checks: number;
}

/** The store, with every atomic commit's mutations and checks counted into `commits`. */
function counted(kv: Deno.Kv): { kv: Deno.Kv; commits: CommitShape[] } {
  const commits: CommitShape[] = [];
  const mutators = new Set(["set", "delete", "sum", "min", "max"]);
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const shape = { mutations: 0, checks: 0 };
          const proxy: Deno.AtomicOperation = new Proxy(op, {
            get(t, p) {
              const value = Reflect.get(t, p);
              if (typeof value !== "function") return value;
              return (...args: unknown[]) => {
                if (p === "check") shape.checks += args.length;
                if (p === "mutate") shape.mutations += args.length;
                if (mutators.has(String(p))) shape.mutations++;
                if (p === "commit") commits.push(shape);
                const result = value.apply(t, args);
                return result === t ? proxy : result;
              };
            },
          });
          return proxy;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: wrapped, commits };
}

/** A worker context over `kv` (the store in a temp dir), and a claimed first job. */
async function claimedIn(kv: Deno.Kv, path: string): Promise<[WorkerContext, JobEntry]> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const ctx = workerContext({
    kv,
    paths: { ...resolvePaths({ QUEUECTL_HOME: dir }), dbPath: path },
    id: "w-test",
    host: "test",
    pid: Deno.pid,
    concurrency: 1,
    drain: false,
    queues: null,
  });
  const claimed = await jobClaimNext(kv, claimOptionsFor(ctx, config));
  assert.equal(claimed.kind, "claimed");
  if (claimed.kind !== "claimed") throw new Error("unreachable");
  return [ctx, claimed.entry];
}

/** Records a run of `entry` that exited 0, claiming the next job in the same commit. */
function finishOk(ctx: WorkerContext, entry: JobEntry) {
  const result = { outcome: { kind: "exited", code: 0 } as const, durationMs: 3, tail: "" };
  return finishCommit(ctx, entry, {
    outcome: result.outcome,
    attempt: attemptRecord(ctx, entry.job, { ...result, logError: null }, new Date()),
    config,
    lane: 0,
    dependents: dependentsMarkerGet(ctx.kv, entry.job.id),
    followUp: claimCandidates(ctx.kv, claimOptionsFor(ctx, config), entry.job.queue),
  });
}

Deno.test("finishCommit() of a plain job claims the next in one commit of at most 15 mutations, statistics in one lane record", async () => {
  const t = await tempKv();
  try {
    await jobInsertMany(t.kv, ["a", "b", "c"].map((id) => makeJob({ id })));
    const store = counted(t.kv);
    const [ctx, a] = await claimedIn(store.kv, t.path);
    store.commits.length = 0;
    const first = await finishOk(ctx, a);
    assert.equal(first.kind, "finished");
    if (first.kind !== "finished") return;
    assert.equal(first.job.state, "completed");
    assert.equal(first.next?.entry.job.id, "b", "the same commit claimed b");
    assert.equal(store.commits.length, 1, "one commit");
    const [shape] = store.commits;
    assert.ok(shape.mutations <= 15, `${shape.mutations} mutations`);
    assert.ok(shape.checks <= 10, `${shape.checks} checks (KV Connect allows 10)`);
    await assertConsistent(t.kv);

    // The next finish in the same minute rewrites the lane's one record.
    const second = await finishOk(ctx, first.next!.entry);
    assert.equal(second.kind, "finished");
    await assertConsistent(t.kv);
    const lanes = await Array.fromAsync(t.kv.list({ prefix: STATS_LANE_PREFIX }));
    assert.equal(lanes.length, 1, "one record for the lane's minute");
    const now = new Date();
    const since = new Date(now.getTime() - 5 * 60_000);
    const report = await statsRead(t.kv, { since, now });
    assert.equal(report.totals.completed, 2);
    assert.equal(report.totals.attempts, 2);
    assert.notEqual(report.queue_wait_ms.p50, null, "the claims' waits are counted");

    // Once rolled up, the counters say the same and the record is gone.
    assert.equal(await laneStatsRollUp(t.kv, now.getTime() + 60 * 60_000), 1);
    assert.deepEqual(await statsRead(t.kv, { since, now }), report);
    assert.equal((await Array.fromAsync(t.kv.list({ prefix: STATS_LANE_PREFIX }))).length, 0);
  } finally {
    await t.cleanup();
  }
});

Deno.test("finishCommit(): a cancel asked for while the job ran, unseen, fails the first commit; the retry removes it", async () => {
  const t = await tempKv();
  try {
    await jobInsertMany(t.kv, ["a", "b"].map((id) => makeJob({ id })));
    const store = counted(t.kv);
    const [ctx, a] = await claimedIn(store.kv, t.path);
    await cancelRequestPut(t.kv, "a", new Date());
    store.commits.length = 0;
    const outcome = await finishOk(ctx, a);
    assert.equal(outcome.kind, "finished");
    if (outcome.kind !== "finished") return;
    assert.equal(outcome.job.state, "completed", "the run's own outcome stands");
    assert.equal(outcome.next, null, "the retry claims nothing");
    assert.equal(store.commits.length, 2, "the first failed on the check, the retry landed");
    assert.equal((await t.kv.get(cancelKey("a"))).value, null, "the request is removed");
    await assertConsistent(t.kv);
    const now = new Date();
    const report = await statsRead(t.kv, { since: new Date(now.getTime() - 60_000), now });
    assert.equal(report.totals.completed, 1, "counted once");
  } finally {
    await t.cleanup();
  }
});
