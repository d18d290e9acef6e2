import assert from "node:assert/strict";
import type { BackoffSettings } from "../../lib/backoff.ts";
import { addClaim, claimCandidates, jobClaimNext, type TakenMark } from "../../lib/store/claim.ts";
import { ALL_QUEUES, queueSettingsUpdate } from "../../lib/store/queues.ts";
import { jobKey, queueCountKey, WAKE_KEY } from "../../lib/store/keys.ts";
import { testStore } from "../_helpers/store_mode.ts";
import { queueNames } from "../../lib/store/queues.ts";
import { countsGet, outstanding, queueCountsGet } from "../../lib/store/counts.ts";
import { addChange, jobCommitChange, jobGet, jobInsertMany } from "../../lib/store/jobs.ts";
import { rescue } from "../../lib/store/rescue.ts";
import { assertConsistent, completedRun, makeJob, tempKv } from "./_kv.ts";

const BACKOFF: BackoffSettings = { base: 2, maxSeconds: 3600, jitter: 0 };

/** Claims until the store says empty; returns the ids in claim order. */
async function claimAll(
  kv: Deno.Kv,
  options: { now?: Date; queues?: string[]; workerId?: string } = {},
): Promise<string[]> {
  const ids: string[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const result = await jobClaimNext(kv, {
      workerId: options.workerId ?? "w1",
      leaseSeconds: 30,
      now: options.now ?? new Date(),
      queues: options.queues,
    });
    if (result.kind === "empty") return ids;
    if (result.kind === "claimed") ids.push(result.entry.job.id);
  }
  throw new Error("claimAll did not finish");
}

Deno.test("jobClaimNext() takes the highest priority first, and equal priorities in enqueue order", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const specs: [string, number][] = [
      ["a", 0],
      ["b", 5],
      ["c", 0],
      ["d", -1],
      ["e", 5],
      ["f", 10],
      ["g", 0],
    ];
    await jobInsertMany(kv, specs.map(([id, priority]) => makeJob({ id, priority })));
    assert.deepEqual(await claimAll(kv), ["f", "b", "e", "a", "c", "g", "d"]);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobClaimNext() serves only the queues asked for, and the best job across them", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, [
      makeJob({ id: "m1", queue: "mail" }),
      makeJob({ id: "r1", queue: "reports", priority: 3 }),
      makeJob({ id: "d1" }),
      makeJob({ id: "m2", queue: "mail", priority: 7 }),
    ]);
    assert.deepEqual((await queueNames(kv)).sort(), ["default", "mail", "reports"]);
    assert.equal((await queueCountsGet(kv, "mail")).pending, 2);
    assert.equal(outstanding(await queueCountsGet(kv, "reports")), 1);
    assert.deepEqual(await claimAll(kv, { queues: ["mail"] }), ["m2", "m1"]);
    const mail = await queueCountsGet(kv, "mail");
    assert.deepEqual([mail.pending, mail.processing], [0, 2]);
    assert.equal(outstanding(await countsGet(kv)), 2, "the other queues' jobs are left");
    assert.deepEqual(await claimAll(kv, { queues: ["nosuch"] }), []);
    assert.deepEqual(await claimAll(kv), ["r1", "d1"]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a delayed job is not claimable before its time, and is claimed once promoted", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const now = new Date();
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    await jobInsertMany(kv, [makeJob({ id: "later", delay: "60s" }, now)]);
    assert.equal((await countsGet(kv)).scheduled, 1);
    assert.deepEqual(await claimAll(kv, { now: at(120) }), [], "not ready until promoted");
    assert.deepEqual(await rescue(kv, { now: at(59.999), backoff: BACKOFF }), {
      promoted: 0,
      expired: 0,
    });
    assert.equal((await jobGet(kv, "later"))!.job.next_run_at, at(60).toISOString());
    assert.deepEqual(await rescue(kv, { now: at(60), backoff: BACKOFF }), {
      promoted: 1,
      expired: 0,
    });
    const counts = await countsGet(kv);
    assert.equal(counts.scheduled, 0);
    assert.equal(counts.pending, 1);
    await assertConsistent(kv);
    assert.deepEqual(await claimAll(kv, { now: at(60) }), ["later"]);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("lanes sharing a taken set never race: two claims at once on one handle take a and b, neither contended; without the set one loses", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, ["a", "b", "c"].map((id) => makeJob({ id })));
    const lanes = async (taken?: Map<string, TakenMark>) => {
      const cache = { current: null, maxAgeMs: 60_000, contendedAt: 0, taken };
      const claimOnce = () =>
        jobClaimNext(kv, { workerId: "w", leaseSeconds: 30, now: new Date(), cache });
      return { results: await Promise.all([claimOnce(), claimOnce()]), cache };
    };
    const shared = await lanes(new Map());
    assert.deepEqual(
      shared.results.map((r) => r.kind === "claimed" ? r.entry.job.id : r.kind).sort(),
      ["a", "b"],
      "each lane skips the job its sibling is claiming, oldest first",
    );
    // A lane that lost a race on a would also end with b: no claim commit may have failed.
    assert.equal(shared.cache.contendedAt, 0, "no claim commit failed");
    // The same two claims without a shared set both go for the oldest (c): one loses.
    const apart = await lanes();
    assert.deepEqual(apart.results.map((r) => r.kind).sort(), ["claimed", "contended"]);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("an empty claim drops the cached queue settings: a resume is seen by the next claim, not when the cache ages; on KV Connect the resume wakes idle workers", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const cache = { current: null, maxAgeMs: 60_000, contendedAt: 0, taken: new Map() };
    const claimOnce = () =>
      jobClaimNext(kv, { workerId: "w", leaseSeconds: 30, now: new Date(), cache });
    await queueSettingsUpdate(kv, ALL_QUEUES, { paused: true });
    await jobInsertMany(kv, [makeJob({ id: "a" })]);
    assert.equal((await claimOnce()).kind, "empty", "paused");
    const wake = async () => ((await kv.get<Deno.KvU64>(WAKE_KEY)).value?.value ?? 0n);
    const before = await wake();
    await queueSettingsUpdate(kv, ALL_QUEUES, { paused: false });
    const claimed = await claimOnce();
    assert.equal(claimed.kind, "claimed", "the resume is seen at once");
    assert.equal(
      await wake() - before,
      testStore() === "kv_connect" ? 1n : 0n,
      "the resume bumps the key idle workers watch, on KV Connect only",
    );
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobClaimNext() from four KV handles at once claims each of 200 jobs exactly once", async () => {
  const t = await tempKv();
  try {
    const n = 200;
    await jobInsertMany(t.kv, Array.from({ length: n }, (_, i) => makeJob({ id: `j${i}` })));
    const handles = [t.kv, await t.open(), await t.open(), await t.open()];
    const claimed = await Promise.all(
      handles.map((kv, w) =>
        Promise.all([0, 1].map((lane) => claimAll(kv, { workerId: `w${w}.${lane}` })))
      ),
    );
    const all = claimed.flat(2);
    assert.equal(all.length, n, "every claim was of a different job");
    assert.equal(new Set(all).size, n);
    assert.ok(claimed.filter((c) => c.flat().length > 0).length >= 2, "more than one handle won");
    const counts = await countsGet(t.kv);
    assert.equal(counts.processing, n);
    assert.equal(counts.pending, 0);
    // Each job's record names the worker whose claim returned it.
    const byWorker = new Map<string, string>();
    claimed.forEach((perHandle, w) =>
      perHandle.forEach((ids, lane) => ids.forEach((id) => byWorker.set(id, `w${w}.${lane}`)))
    );
    for (const [id, worker] of byWorker) {
      const job = (await jobGet(t.kv, id))!.job;
      assert.equal(job.worker_id, worker, id);
      assert.equal(job.attempts, 1, id);
    }
    await assertConsistent(t.kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("one commit finishes a job and claims the next: a capped queue's one slot passes from the first job to the second, all or nothing", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await queueSettingsUpdate(kv, "q", { concurrency: 1 });
    await jobInsertMany(kv, ["a", "b", "c"].map((id) => makeJob({ id, queue: "q" })));
    const options = () => ({ workerId: "w1", leaseSeconds: 30, now: new Date() });
    const first = await jobClaimNext(kv, options());
    assert.equal(first.kind, "claimed");
    if (first.kind !== "claimed") return;
    assert.equal(first.entry.job.id, "a");
    assert.equal((await jobClaimNext(kv, options())).kind, "empty", "the queue is at its cap");
    assert.equal(await claimCandidates(kv, options()), null, "nothing while a holds the slot");

    // Finishing a releases its slot in the same commit, so b may be claimed there.
    const done = completedRun(first.entry.job);
    const build = async () => {
      const candidates = await claimCandidates(kv, options(), "q");
      assert.ok(candidates);
      assert.deepEqual(candidates.entries.map((e) => e.job.id), ["b", "c"]);
      const op = kv.atomic();
      await addChange(kv, op, first.entry, done);
      const next = await addClaim(kv, op, candidates, candidates.entries[0], options());
      assert.equal(next?.id, "b");
      return { op }; // (an AtomicOperation is not returned bare: it refuses to be awaited)
    };

    // b taken by someone else after the read: the commit fails as a whole, a is not finished.
    const stale = (await build()).op;
    const b = (await jobGet(kv, "b"))!;
    await kv.set(jobKey("b"), b.job); // a new versionstamp, as another claimer would leave
    assert.equal((await stale.commit()).ok, false);
    assert.equal((await jobGet(kv, "a"))!.job.state, "processing", "nothing half-written");

    // The queue's running count changed after the read (b's record did not): fails too.
    const countStale = (await build()).op;
    const running = await kv.get<Deno.KvU64>(queueCountKey("q", "processing"));
    assert.ok(running.value, "the counter exists");
    await kv.set(running.key, running.value); // the same count at a new versionstamp
    assert.equal((await countStale.commit()).ok, false, "the running count is checked");
    assert.equal((await jobGet(kv, "a"))!.job.state, "processing", "nothing half-written");

    const result = await (await build()).op.commit();
    assert.ok(result.ok);
    const a = (await jobGet(kv, "a"))!, claimedB = (await jobGet(kv, "b"))!;
    assert.equal(a.job.state, "completed");
    assert.equal(claimedB.job.state, "processing");
    assert.equal(a.versionstamp, claimedB.versionstamp, "both changes are one commit");
    assert.equal((await queueCountsGet(kv, "q")).processing, 1, "the cap still holds");
    assert.equal((await jobClaimNext(kv, options())).kind, "empty");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("two claimers of a capped queue (concurrency 1) with two ready jobs: both read a free slot, both commit, exactly one claim lands", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await queueSettingsUpdate(kv, "q", { concurrency: 1 });
    const other = await t.open();
    const options = (workerId: string) => ({ workerId, leaseSeconds: 30, now: new Date() });
    // Round 1 with the running counter absent (the queue never ran a job); round 2 with it
    // present at 0 (a job ran and finished), where a check skipped unless the counter is
    // absent would let both claims land.
    for (const round of [1, 2]) {
      const ids = [`r${round}a`, `r${round}b`];
      await jobInsertMany(kv, ids.map((id) => makeJob({ id, queue: "q" })));
      const running = await kv.get<Deno.KvU64>(queueCountKey("q", "processing"));
      assert.equal(running.versionstamp === null, round === 1, "the counter's presence");
      const reads = [
        await claimCandidates(kv, options("w1")),
        await claimCandidates(other, options("w2")),
      ];
      const ops = await Promise.all(reads.map(async (candidates, i) => {
        assert.ok(candidates, "both claimers see a free slot");
        assert.deepEqual(candidates.entries.map((e) => e.job.id), ids);
        const op = [kv, other][i].atomic();
        const entry = candidates.entries[i]; // each goes for a different job
        const job = await addClaim(kv, op, candidates, entry, options(`w${i + 1}`));
        assert.equal(job?.id, ids[i]);
        return { op };
      }));
      const results = await Promise.all(ops.map(({ op }) => op.commit()));
      assert.deepEqual(
        results.map((r) => r.ok).sort(),
        [false, true],
        `round ${round}: exactly one commit lands`,
      );
      assert.equal((await queueCountsGet(kv, "q")).processing, 1, "the cap holds");
      await assertConsistent(kv);
      // Finish the running job so the next round starts with a free slot.
      const winner = ids[results.findIndex((r) => r.ok)];
      const held = (await jobGet(kv, winner))!;
      assert.ok(await jobCommitChange(kv, held, completedRun(held.job)));
      const loser = (await jobGet(kv, ids[results.findIndex((r) => !r.ok)]))!;
      assert.ok(await jobCommitChange(kv, loser, null), "the unclaimed job is removed");
    }
  } finally {
    await t.cleanup();
  }
});
