import assert from "node:assert/strict";
import type { BackoffSettings } from "../../lib/backoff.ts";
import { jobClaimNext } from "../../lib/store/claim.ts";
import { countsGet } from "../../lib/store/counts.ts";
import {
  attemptList,
  jobCommitChange,
  type JobEntry,
  jobGet,
  jobInsertMany,
} from "../../lib/store/jobs.ts";
import { renewLease } from "../../lib/state_machine.ts";
import { rescue } from "../../lib/store/rescue.ts";
import { assertConsistent, makeJob, tempKv } from "./_kv.ts";

const BACKOFF: BackoffSettings = { base: 2, maxSeconds: 3600, jitter: 0 };

Deno.test("rescue() expires a lapsed lease only after it ends, recording the lost attempt", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const now = new Date();
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    await jobInsertMany(kv, [makeJob({ id: "held", max_retries: 1 }, now)]);
    const claim = await jobClaimNext(kv, { workerId: "gone", leaseSeconds: 30, now });
    assert.equal(claim.kind, "claimed");
    assert.deepEqual(await rescue(kv, { now: at(29.999), backoff: BACKOFF }), {
      promoted: 0,
      expired: 0,
    });
    assert.equal((await jobGet(kv, "held"))!.job.state, "processing");
    assert.deepEqual(await rescue(kv, { now: at(30), backoff: BACKOFF }), {
      promoted: 0,
      expired: 1,
    });
    const job = (await jobGet(kv, "held"))!.job;
    assert.equal(job.state, "failed");
    assert.equal(job.attempts, 1, "the lost run counts");
    assert.equal(job.lease_token, null);
    assert.equal(job.next_run_at, at(32).toISOString(), "retried after 2^1 s like any failure");
    const [attempt, ...more] = await attemptList(kv, "held");
    assert.equal(more.length, 0);
    assert.equal(attempt.outcome.kind, "lost");
    assert.equal(attempt.attempt, 1);
    assert.equal(attempt.worker_id, "gone");
    assert.equal(attempt.exit_code, null);
    assert.match(attempt.error ?? "", /^worker lost: /);
    let counts = await countsGet(kv);
    assert.equal(counts.processing, 0);
    assert.equal(counts.failed, 1);
    await assertConsistent(kv);

    // The retry is lost too: out of retries, the job is dead.
    assert.equal((await rescue(kv, { now: at(32), backoff: BACKOFF })).promoted, 1);
    const again = await jobClaimNext(kv, { workerId: "gone2", leaseSeconds: 30, now: at(32) });
    assert.equal(again.kind, "claimed");
    assert.equal((await rescue(kv, { now: at(62), backoff: BACKOFF })).expired, 1);
    assert.equal((await jobGet(kv, "held"))!.job.state, "dead");
    assert.equal((await attemptList(kv, "held")).length, 2);
    counts = await countsGet(kv);
    assert.equal(counts.dead, 1);
    assert.equal(counts.failed, 0);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("rescue() leaves a renewed lease alone until the renewed end", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    const now = new Date();
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    await jobInsertMany(kv, [makeJob({ id: "busy" }, now)]);
    const claim = await jobClaimNext(kv, { workerId: "w", leaseSeconds: 30, now });
    assert.equal(claim.kind, "claimed");
    const entry = (claim as { entry: JobEntry }).entry;
    const renewed = renewLease(entry.job, {
      now: at(20),
      leaseToken: entry.job.lease_token!,
      leaseSeconds: 30,
    });
    assert.ok(renewed.ok);
    assert.ok(await jobCommitChange(kv, entry, renewed.job));
    await assertConsistent(kv);
    assert.equal((await rescue(kv, { now: at(49.999), backoff: BACKOFF })).expired, 0);
    assert.equal((await jobGet(kv, "busy"))!.job.state, "processing");
    assert.equal((await rescue(kv, { now: at(50), backoff: BACKOFF })).expired, 1);
    assert.equal((await jobGet(kv, "busy"))!.job.state, "failed");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});
