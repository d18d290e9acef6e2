/**
 * Every commit that grows with its input, at its worst case, stays within the limits of
 * the store the suite runs on (a KV Connect server allows 10 checks per atomic write):
 * batch enqueue, a job with the most dependencies, purging a job retried very many times,
 * and `dlq retry --all`. (A finish that releases dependents: jobs_test.ts; a finishing
 * commit that also claims from a capped queue: tests/e2e/limits_test.ts.)
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { MAX_AFTER } from "../../lib/job_spec.ts";
import { claim, finish } from "../../lib/state_machine.ts";
import { deadJobsEach, jobRetry } from "../../lib/store/dlq.ts";
import {
  insertBatches,
  jobGet,
  jobInsertMany,
  jobInsertOne,
  jobListIds,
} from "../../lib/store/jobs.ts";
import { attemptKey } from "../../lib/store/keys.ts";
import { FILE_LIMITS, KV_CONNECT_LIMITS } from "../../lib/store/limits.ts";
import { jobRemove } from "../../lib/store/purge.ts";
import { resolvePaths } from "../../lib/paths.ts";
import { assertConsistent, completedRun, makeJob, tempKv } from "./_kv.ts";

/** A job run once by worker "w" (claimed, then finished by its command's exit `code`). */
function ranOnce(job: Job, code: number): Job {
  const now = new Date();
  const claimed = claim(job, { now, workerId: "w", leaseToken: "t", leaseSeconds: 60 });
  assert.ok(claimed.ok);
  if (code === 0) return completedRun(claimed.job, now);
  const done = finish(claimed.job, {
    now,
    leaseToken: "t",
    outcome: { kind: "exited", code },
    backoff: { base: 2, maxSeconds: 3600, jitter: 0 },
  });
  assert.ok(done.ok);
  return done.job;
}

Deno.test("insertBatches() keeps each commit within the store's checks: 10 jobs on KV Connect, 100 on a file", () => {
  const jobs = Array.from({ length: 250 }, (_, i) => makeJob({ id: `b${i}` }));
  assert.deepEqual(insertBatches(jobs, KV_CONNECT_LIMITS.checks).map((b) => b.length).slice(0, 3), [
    10,
    10,
    10,
  ]);
  assert.deepEqual(insertBatches(jobs, FILE_LIMITS.checks).map((b) => b.length), [100, 100, 50]);
  const unique = Array.from(
    { length: 12 },
    (_, i) => makeJob({ id: `u${i}`, unique_key: `k${i}` }),
  );
  assert.ok(insertBatches(unique, KV_CONNECT_LIMITS.checks).every((b) => b.length <= 5));
});

Deno.test("jobInsertMany() enqueues 1,000 jobs in one call on the suite's store", async () => {
  const t = await tempKv();
  try {
    const jobs = Array.from({ length: 1000 }, (_, i) => makeJob({ id: `m${i}` }));
    const result = await jobInsertMany(t.kv, jobs);
    assert.equal(result.inserted.length, 1000);
    assert.deepEqual(result.duplicates, []);
    assert.equal((await jobListIds(t.kv, { state: "pending" })).length, 1000);
    await assertConsistent(t.kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test(`jobInsertOne() inserts a job with ${MAX_AFTER} dependencies (the most allowed), some finished, in one commit`, async () => {
  const t = await tempKv();
  try {
    const parents = Array.from({ length: MAX_AFTER }, (_, i) => makeJob({ id: `p${i}` }));
    await jobInsertMany(t.kv, parents.map((p, i) => i % 2 === 0 ? ranOnce(p, 0) : p));
    const child = makeJob({ id: "child", after: parents.map((p) => p.id) });
    const result = await jobInsertOne(t.kv, child);
    assert.equal(result.kind, "inserted");
    const stored = (await jobGet(t.kv, "child"))!.job;
    assert.deepEqual(
      [...stored.waiting_on].sort(),
      parents.filter((_, i) => i % 2 === 1).map((p) => p.id).sort(),
      "it waits for the unfinished half only",
    );
    await assertConsistent(t.kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobRemove() purges a job with 1,200 attempts (more than one commit's mutations)", async () => {
  const t = await tempKv();
  try {
    const job = ranOnce(makeJob({ id: "many" }), 0);
    await jobInsertMany(t.kv, [job]);
    for (let i = 0; i < 1200; i += 400) {
      const op = t.kv.atomic();
      for (let n = i + 1; n <= i + 400; n++) op.set(attemptKey("many", n), { attempt: n });
      assert.ok((await op.commit()).ok);
    }
    const paths = resolvePaths({ QUEUECTL_HOME: "/nonexistent-queuectl-test" });
    assert.equal(await jobRemove(t.kv, paths, (await jobGet(t.kv, "many"))!), true);
    assert.equal(await jobGet(t.kv, "many"), null);
    const left = await Array.fromAsync(t.kv.list({ prefix: [] }));
    assert.deepEqual(left.filter((e) => e.key[0] === "attempt"), [], "no attempt is left");
    await assertConsistent(t.kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("dlq retry --all (deadJobsEach with jobRetry) puts 250 dead jobs back, one commit each", async () => {
  const t = await tempKv();
  try {
    const dead = Array.from(
      { length: 250 },
      (_, i) => ranOnce(makeJob({ id: `d${i}`, max_retries: 0 }), 1),
    );
    assert.equal(dead[0].state, "dead");
    await jobInsertMany(t.kv, dead);
    const now = new Date();
    const retried = await deadJobsEach(t.kv, (entry) => jobRetry(t.kv, entry, now));
    assert.equal(retried.length, 250);
    assert.equal((await jobListIds(t.kv, { state: "dead" })).length, 0);
    await assertConsistent(t.kv);
  } finally {
    await t.cleanup();
  }
});
