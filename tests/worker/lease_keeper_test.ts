import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { claim } from "../../lib/state_machine.ts";
import type { JobEntry } from "../../lib/store/jobs.ts";
import {
  leaseKeep,
  type LeaseStore,
  renewEveryMs,
  renewOnce,
} from "../../lib/worker/lease_keeper.ts";
import { waitFor } from "../_helpers/cli.ts";
import { makeJob } from "../store/_kv.ts";

const NOW = new Date("2026-01-01T00:00:00Z");

/** A job claimed with lease token `token`, as a store entry. */
function claimed(token = "t1"): JobEntry {
  const next = claim(makeJob({}, NOW), {
    now: NOW,
    workerId: "w-1",
    leaseToken: token,
    leaseSeconds: 30,
  });
  assert.ok(next.ok);
  return { job: next.job, versionstamp: "v1" };
}

/** A record store in memory: commits are checked by versionstamp like KV's. */
function memoryStore(entry: JobEntry): LeaseStore & { record: JobEntry; commits: number } {
  let n = 1;
  const store = {
    record: entry,
    commits: 0,
    commit: (before: JobEntry, job: Job) => {
      if (before.versionstamp !== store.record.versionstamp) return Promise.resolve(null);
      store.commits++;
      store.record = { job, versionstamp: `v${++n}` };
      return Promise.resolve({ versionstamp: store.record.versionstamp });
    },
    get: () => Promise.resolve(store.record),
  };
  return store;
}

Deno.test("renewEveryMs() is a third of the lease, never under 200 ms", () => {
  assert.equal(renewEveryMs(30), 10_000);
  assert.equal(renewEveryMs(0.3), 200);
});

Deno.test("renewOnce() extends the lease of an unchanged record", async () => {
  const entry = claimed();
  const store = memoryStore(entry);
  const later = new Date(NOW.getTime() + 5000);
  const outcome = await renewOnce(store, entry, { leaseToken: "t1", leaseSeconds: 30, now: later });
  assert.equal(outcome.kind, "renewed");
  assert.ok(outcome.kind === "renewed");
  assert.equal(outcome.entry.job.lease_expires_at, "2026-01-01T00:00:35.000Z");
  assert.equal(store.commits, 1);
});

Deno.test("renewOnce() keeps the lease when the record changed but still carries our token", async () => {
  const entry = claimed();
  const store = memoryStore(entry);
  store.record = { job: { ...entry.job, priority: 9 }, versionstamp: "v-other" };
  const outcome = await renewOnce(store, entry, { leaseToken: "t1", leaseSeconds: 30, now: NOW });
  assert.equal(outcome.kind, "kept");
  assert.ok(outcome.kind === "kept");
  assert.equal(outcome.entry.versionstamp, "v-other", "the record as read again");
});

Deno.test("renewOnce() reports the lease lost once another worker's token is on the job", async () => {
  const entry = claimed("t1");
  const store = memoryStore(entry);
  store.record = claimed("t2");
  store.record.versionstamp = "v-taken";
  const outcome = await renewOnce(store, entry, { leaseToken: "t1", leaseSeconds: 30, now: NOW });
  assert.deepEqual(outcome, { kind: "lost" });
  assert.equal(store.commits, 0);
});

Deno.test("leaseKeep() renews while held, calls onLost once taken over, and release() says lost", async () => {
  const entry = claimed("t1");
  const store = memoryStore(entry);
  let lost = 0;
  const keeper = leaseKeep(store, entry, {
    leaseSeconds: 30,
    everyMs: 10,
    onLost: () => lost++,
    onError: (error) => assert.fail(String(error)),
  });
  try {
    await waitFor(() => store.commits >= 2, { timeoutMs: 5000, what: "two renewals" });
    assert.equal(keeper.current().versionstamp, store.record.versionstamp);
    store.record = { ...claimed("t2"), versionstamp: "v-taken" };
    await waitFor(() => lost === 1, { timeoutMs: 5000, what: "the loss to be noticed" });
  } finally {
    const outcome = await keeper.release();
    assert.equal(outcome.kind, "lost");
  }
  assert.equal(lost, 1, "onLost is called once");
});

Deno.test("leaseKeep() release() right away says held, with the record as claimed", async () => {
  const entry = claimed();
  const keeper = leaseKeep(memoryStore(entry), entry, {
    leaseSeconds: 30,
    onLost: () => assert.fail("not lost"),
    onError: (error) => assert.fail(String(error)),
  });
  assert.deepEqual(await keeper.release(), { kind: "held", entry });
});
