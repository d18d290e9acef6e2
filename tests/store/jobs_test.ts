import assert from "node:assert/strict";
import type { Attempt, AttemptOutcome, Job } from "../../lib/job.ts";
import { outcomeError } from "../../lib/job.ts";
import type { BackoffSettings } from "../../lib/backoff.ts";
import { cancel, finish, retryFromDlq } from "../../lib/state_machine.ts";
import { jobClaimNext } from "../../lib/store/claim.ts";
import { countsGet } from "../../lib/store/counts.ts";
import {
  addChange,
  attemptList,
  changeLanded,
  jobCommitChange,
  type JobEntry,
  jobGet,
  jobInsertMany,
  jobInsertOne,
  jobList,
  releaseDependents,
  releaseStranded,
} from "../../lib/store/jobs.ts";
import { rescue } from "../../lib/store/rescue.ts";
import { attemptPrefix, WAKE_KEY } from "../../lib/store/keys.ts";
import { testStore } from "../_helpers/store_mode.ts";
import { assertConsistent, completedRun, dump, makeJob, tempKv } from "./_kv.ts";

const BACKOFF: BackoffSettings = { base: 2, maxSeconds: 3600, jitter: 0 };

function attemptOf(job: Job, outcome: AttemptOutcome, now: Date): Attempt {
  return {
    job_id: job.id,
    attempt: job.runs,
    worker_id: job.worker_id ?? "w",
    host: "test",
    started_at: job.started_at ?? now.toISOString(),
    finished_at: now.toISOString(),
    duration_ms: 1,
    outcome,
    exit_code: outcome.kind === "exited" ? outcome.code : null,
    error: outcomeError(outcome),
    output_tail: "",
  };
}

/** Finishes a claimed job with `outcome` at `now`, committing the attempt with it. */
async function finishClaimed(
  kv: Deno.Kv,
  entry: JobEntry,
  outcome: AttemptOutcome,
  now: Date,
): Promise<JobEntry> {
  const next = finish(entry.job, {
    now,
    leaseToken: entry.job.lease_token!,
    outcome,
    backoff: BACKOFF,
  });
  assert.ok(next.ok);
  const committed = await jobCommitChange(kv, entry, next.job, {
    attempt: attemptOf(entry.job, outcome, now),
  });
  assert.ok(committed, "the finish commits");
  return { job: next.job, versionstamp: committed.versionstamp };
}

async function claimOne(kv: Deno.Kv, now: Date): Promise<JobEntry> {
  const result = await jobClaimNext(kv, { workerId: "w1", leaseSeconds: 30, now });
  assert.equal(result.kind, "claimed");
  return (result as { entry: JobEntry }).entry;
}

Deno.test("jobCommitChange() keeps indexes and counters exact over a job's whole life, and removal leaves nothing behind", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const t0 = new Date();
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const job = makeJob({ id: "life", max_retries: 1 }, t0);
    assert.deepEqual(await jobInsertMany(kv, [job]), { inserted: ["life"], duplicates: [] });
    await assertConsistent(kv);
    assert.equal((await countsGet(kv)).pending, 1);

    const first = await claimOne(kv, at(1));
    assert.equal(first.job.state, "processing");
    await assertConsistent(kv);

    const failed = await finishClaimed(kv, first, { kind: "exited", code: 1 }, at(2));
    assert.equal(failed.job.state, "failed");
    assert.equal(failed.job.next_run_at, at(4).toISOString(), "retry in 2^1 s");
    await assertConsistent(kv);
    assert.equal(
      (await jobClaimNext(kv, { workerId: "w", leaseSeconds: 30, now: at(5) })).kind,
      "empty",
      "a job waiting out its backoff is not in the ready index",
    );

    assert.deepEqual(await rescue(kv, { now: at(3.999), backoff: BACKOFF }), {
      promoted: 0,
      expired: 0,
    });
    assert.deepEqual(await rescue(kv, { now: at(4), backoff: BACKOFF }), {
      promoted: 1,
      expired: 0,
    });
    await assertConsistent(kv);

    const second = await claimOne(kv, at(5));
    assert.equal(second.job.attempts, 2);
    await assertConsistent(kv);
    const dead = await finishClaimed(kv, second, { kind: "exited", code: 1 }, at(6));
    assert.equal(dead.job.state, "dead");
    await assertConsistent(kv);
    assert.equal((await countsGet(kv)).dead, 1);

    const retry = retryFromDlq(dead.job, at(7));
    assert.ok(retry.ok);
    const retried = await jobCommitChange(kv, dead, retry.job);
    assert.ok(retried);
    await assertConsistent(kv);
    const pending = (await jobGet(kv, "life"))!;
    assert.equal(pending.job.state, "pending");
    assert.equal(pending.job.attempts, 0);
    assert.equal((await attemptList(kv, "life")).length, 2, "attempts stay on record");

    const third = await claimOne(kv, at(8));
    const done = await finishClaimed(kv, third, { kind: "exited", code: 0 }, at(9));
    assert.equal(done.job.state, "completed");
    await assertConsistent(kv);

    const attemptKeys: Deno.KvKey[] = [];
    for await (const a of kv.list({ prefix: attemptPrefix("life") })) attemptKeys.push(a.key);
    assert.equal(attemptKeys.length, 3);
    const removed = await jobCommitChange(kv, done, null, {
      more: (op) => attemptKeys.forEach((k) => op.delete(k)),
    });
    assert.ok(removed);
    await assertConsistent(kv);

    // The whole store: only the queue name, counters back at 0 and lifetime statistics (and,
    // on a KV Connect store, the wake-up counter that commits making a job ready bump).
    const left = await dump(kv);
    for (const [key, value] of left) {
      const kind = key[0] as string;
      if (kind === WAKE_KEY[0] && testStore() === "kv_connect") continue;
      if (kind === "count" || kind === "queue_count") {
        assert.equal((value as Deno.KvU64).value, 0n, `counter ${JSON.stringify(key)} is 0`);
      } else if (kind === "queue") {
        assert.deepEqual(key, ["queue", "default"]);
      } else {
        assert.ok(kind.startsWith("stats_"), `stray key ${JSON.stringify(key)}`);
      }
    }
    assert.ok(left.some(([k]) => k[0] === "count"), "counters were written and brought back");
  } finally {
    await t.cleanup();
  }
});

Deno.test("cancelling a delayed job takes it out of the scheduled index and count", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const now = new Date();
    await jobInsertMany(kv, [makeJob({ id: "later", delay: "1h" }, now)]);
    assert.equal((await countsGet(kv)).scheduled, 1);
    await assertConsistent(kv);
    const entry = (await jobGet(kv, "later"))!;
    const next = cancel(entry.job, now);
    assert.ok(next.ok);
    assert.ok(await jobCommitChange(kv, entry, next.job));
    await assertConsistent(kv);
    const counts = await countsGet(kv);
    assert.equal(counts.scheduled, 0);
    assert.equal(counts.pending, 0);
    assert.equal(counts.cancelled, 1);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobCommitChange() refuses a change read at a stale versionstamp", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, [makeJob({ id: "x" })]);
    const entry = (await jobGet(kv, "x"))!;
    const a = cancel(entry.job, new Date());
    assert.ok(a.ok);
    assert.ok(await jobCommitChange(kv, entry, a.job));
    const again = await jobCommitChange(kv, entry, { ...entry.job, priority: 5 });
    assert.equal(again, null, "the second writer loses");
    assert.equal((await jobGet(kv, "x"))!.job.state, "cancelled");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobInsertMany() reports ids that exist as duplicates, writes the rest and leaves the existing job untouched", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const original = makeJob({ id: "dup", command: "echo original" });
    await jobInsertMany(kv, [original]);
    const before = await jobGet(kv, "dup");
    const batch = [
      makeJob({ id: "a" }),
      makeJob({ id: "dup", command: "echo impostor" }),
      makeJob({ id: "b" }),
    ];
    const result = await jobInsertMany(kv, batch);
    assert.deepEqual(result, { inserted: ["a", "b"], duplicates: ["dup"] });
    assert.deepEqual(await jobGet(kv, "dup"), before);
    assert.equal((await countsGet(kv)).pending, 3);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobInsertMany() with allOrNothing writes nothing when any id exists", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, [makeJob({ id: "dup" })]);
    const result = await jobInsertMany(kv, [makeJob({ id: "new1" }), makeJob({ id: "dup" })], {
      allOrNothing: true,
    });
    assert.deepEqual(result, { inserted: [], duplicates: ["dup"] });
    assert.equal(await jobGet(kv, "new1"), null);
    assert.equal((await countsGet(kv)).pending, 1);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobInsertMany() writes an id repeated in its input once", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const result = await jobInsertMany(kv, [
      makeJob({ id: "twice", command: "echo first" }),
      makeJob({ id: "other" }),
      makeJob({ id: "twice", command: "echo second" }),
    ]);
    assert.deepEqual(result, { inserted: ["twice", "other"], duplicates: ["twice"] });
    assert.equal((await jobGet(kv, "twice"))!.job.command, "echo first");
    assert.equal((await countsGet(kv)).pending, 2);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobInsertMany() inserts 250 jobs in enqueue order across several commits", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const jobs = Array.from({ length: 250 }, (_, i) => makeJob({ id: `j${i}` }));
    const result = await jobInsertMany(kv, jobs);
    assert.equal(result.inserted.length, 250);
    assert.deepEqual(result.duplicates, []);
    const listed = await jobList(kv, { reverse: false });
    assert.deepEqual(listed.map((j) => j.id), jobs.map((j) => j.id));
    assert.equal((await countsGet(kv)).pending, 250);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobInsertMany() splits big jobs into commits within Deno KV's size limits", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    // 100 commands of 16 KiB are 1.6 MB: more than one commit may hold (800 KiB).
    const big = Array.from(
      { length: 100 },
      (_, i) => makeJob({ id: `big${i}`, command: `echo ${"x".repeat(16 * 1024 - 10)}` }),
    );
    assert.equal((await jobInsertMany(kv, big)).inserted.length, 100);
    // Long ids and queue names, delayed: many long keys per job (80 KiB of keys per commit).
    const long = Array.from({ length: 100 }, (_, i) =>
      makeJob({
        id: `${"L".repeat(120)}${String(i).padStart(3, "0")}`,
        queue: "q".repeat(64),
        delay: "1h",
      }));
    assert.equal((await jobInsertMany(kv, long)).inserted.length, 100);
    const counts = await countsGet(kv);
    assert.equal(counts.pending, 200);
    assert.equal(counts.scheduled, 100);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a dependent enqueued while its parent's finishing commit was being built is released once that commit landed; the commit itself never waits on it", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, [makeJob({ id: "p" })]);
    const claimed = await jobClaimNext(kv, { workerId: "w1", leaseSeconds: 30, now: new Date() });
    assert.equal(claimed.kind, "claimed");
    if (claimed.kind !== "claimed") return;
    const op = kv.atomic();
    const done = completedRun(claimed.entry.job);
    const prepared = await addChange(kv, op, claimed.entry, done); // p has no dependents yet
    for (const id of ["c1", "c2"]) {
      const child = await jobInsertOne(kv, makeJob({ id, after: ["p"] }));
      assert.equal(child.kind, "inserted");
    }
    assert.ok((await op.commit()).ok, "dependents enqueued meanwhile do not fail the finish");
    assert.deepEqual((await jobGet(kv, "c1"))!.job.waiting_on, ["p"], "not released yet");
    await changeLanded(kv, prepared);
    for (const id of ["c1", "c2"]) {
      const c = (await jobGet(kv, id))!.job;
      assert.deepEqual(c.waiting_on, [], `${id} released after the commit`);
      assert.equal(c.state, "pending");
    }
    const left = (await dump(kv)).filter(([k]) => k[0] === "dependents" || k[0] === "dep");
    assert.deepEqual(left, [], "no edge and no marker left");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a finished job with 4,100 dependents releases every one, in commits of 40, and leaves no marker", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, [makeJob({ id: "p" })]);
    const n = 4100;
    for (let i = 0; i < n; i += 100) {
      const batch = Array.from(
        { length: Math.min(100, n - i) },
        (_, j) => jobInsertOne(kv, makeJob({ id: `c${i + j}`, after: ["p"] })),
      );
      for (const r of await Promise.all(batch)) assert.equal(r.kind, "inserted");
    }
    const parent = (await jobGet(kv, "p"))!;
    const done = cancel(parent.job, new Date());
    assert.ok(done.ok);
    assert.ok(await jobCommitChange(kv, parent, done.job));
    const counts = await countsGet(kv);
    assert.equal(counts.cancelled, n + 1, "every dependent of a cancelled job is cancelled");
    const left = (await dump(kv)).filter(([k]) => k[0] === "dependents" || k[0] === "dep");
    assert.deepEqual(left, []);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

/**
 * Finishes pending job `id` (cancelled, or dead) with a commit built before `lateChildren`
 * were enqueued after it, and does not run the release after it: as if its process died
 * right after the commit. Returns the finished record.
 */
async function finishStranded(
  kv: Deno.Kv,
  id: string,
  lateChildren: string[],
  how: "cancel" | "dead" = "cancel",
): Promise<Job> {
  const entry = (await jobGet(kv, id))!;
  const after: Job = how === "cancel"
    ? (cancel(entry.job, new Date()) as { ok: true; job: Job }).job
    : { ...entry.job, state: "dead", finished_at: new Date().toISOString() };
  const op = kv.atomic();
  await addChange(kv, op, entry, after); // reads the marker: absent
  for (const child of lateChildren) {
    assert.equal((await jobInsertOne(kv, makeJob({ id: child, after: [id] }))).kind, "inserted");
  }
  assert.ok((await op.commit()).ok);
  return after;
}

Deno.test("the sweep releases dependents stranded by a process that died right after a finishing commit, going round every marker", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    // 60 unfinished parents with one dependent each: markers the sweep must step over.
    await jobInsertMany(kv, Array.from({ length: 60 }, (_, i) => makeJob({ id: `a${i}` })));
    for (let i = 0; i < 60; i++) {
      await jobInsertOne(kv, makeJob({ id: `a${i}-c`, after: [`a${i}`] }));
    }
    await jobInsertMany(kv, [makeJob({ id: "zz" })]);
    await finishStranded(kv, "zz", ["zz-c"]);
    assert.deepEqual((await jobGet(kv, "zz-c"))!.job.waiting_on, ["zz"], "stranded");

    const cursor = { after: null as Deno.KvKey | null };
    assert.equal(await releaseStranded(kv, cursor), 0, "the first 50 markers: none finished");
    assert.ok(cursor.after, "the sweep goes on from there next time");
    assert.equal(await releaseStranded(kv, cursor), 1);
    assert.equal(cursor.after, null, "round complete");
    const child = (await jobGet(kv, "zz-c"))!.job;
    assert.equal(child.state, "cancelled", "its parent was cancelled");
    assert.equal((await kv.get(["dependents", "zz"])).value, null);
    assert.equal((await jobGet(kv, "a0-c"))!.job.state, "pending", "others untouched");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a release stops when its parent is retried from the DLQ meanwhile: the dependents wait for the new run instead of being cancelled", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await jobInsertMany(kv, [makeJob({ id: "p" })]);
    const dead = await finishStranded(kv, "p", ["c"], "dead");
    const entry = (await jobGet(kv, "p"))!;
    const retried = retryFromDlq(entry.job, new Date());
    assert.ok(retried.ok);
    assert.ok(await jobCommitChange(kv, entry, retried.job));
    assert.equal(await releaseDependents(kv, dead), false, "stopped: p is not final any more");
    const c = (await jobGet(kv, "c"))!.job;
    assert.equal(c.state, "pending");
    assert.deepEqual(c.waiting_on, ["p"]);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});
