/**
 * Store test helpers: a KV file in a temp dir, jobs built the way `enqueue` builds them,
 * and an invariant check that every index key and counter agrees with the job records.
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { JOB_STATES } from "../../lib/job.ts";
import { defaultConfig } from "../../lib/config.ts";
import { newJob, parseJobSpec } from "../../lib/job_spec.ts";
import { busyTolerant } from "../../lib/store/busy.ts";
import { testStoreFor } from "../_helpers/store_mode.ts";
import { finish } from "../../lib/state_machine.ts";
import { countsGet } from "../../lib/store/counts.ts";
import { jobCounterKeys, jobIndexKeys } from "../../lib/store/keys.ts";

/** A store in a temp dir; `open()` gives more handles on the same store. */
export interface TempKv {
  kv: Deno.Kv;
  /** The KV file, or the KV Connect server's URL. */
  path: string;
  open(): Promise<Deno.Kv>;
  cleanup(): Promise<void>;
}

/**
 * Opens a fresh store (wrapped like the CLI's, so a busy SQLite file is retried): a KV file,
 * or a KV Connect server when the suite runs on one (see store_mode.ts).
 */
export async function tempKv(): Promise<TempKv> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-store-test-" });
  const store = await testStoreFor(dir);
  const path = store.db;
  const handles: Deno.Kv[] = [];
  const open = async () => {
    const kv = busyTolerant(await store.open(), { remote: store.server !== null });
    handles.push(kv);
    return kv;
  };
  const kv = await open();
  return {
    kv,
    path,
    open,
    cleanup: async () => {
      for (const h of handles) {
        try {
          h.close();
        } catch {
          // already closed
        }
      }
      await store.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

let seq = 1;

/** A new job from a spec, as `enqueue` would build it at `now`. */
export function makeJob(spec: Record<string, unknown>, now = new Date()): Job {
  return newJob(parseJobSpec({ command: "true", ...spec }), {
    id: `gen${seq}`,
    now,
    seq: seq++,
    cwd: "/tmp",
    config: defaultConfig(),
  });
}

/** Every entry in the store, as [key, value] pairs. */
export async function dump(kv: Deno.Kv): Promise<[Deno.KvKey, unknown][]> {
  const out: [Deno.KvKey, unknown][] = [];
  for await (const e of kv.list({ prefix: [] })) out.push([e.key, e.value]);
  return out;
}

const INDEX_PREFIXES = ["by_state", "by_seq", "ready", "scheduled", "lease", "blocked"];
const keyText = (key: Deno.KvKey) => JSON.stringify(key);

/**
 * Asserts that the index keys in the store are exactly those the job records imply, each
 * holding its job's id, and that every counter equals the number of jobs it counts.
 */
export async function assertConsistent(kv: Deno.Kv): Promise<void> {
  const entries = await dump(kv);
  const jobs = entries.filter(([k]) => k[0] === "job").map(([, v]) => v as Job);
  const expected = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const job of jobs) {
    for (const key of jobIndexKeys(job)) expected.set(keyText(key), job.id);
    for (const key of jobCounterKeys(job)) {
      counts.set(keyText(key), (counts.get(keyText(key)) ?? 0) + 1);
    }
  }
  const actual = new Map<string, string>();
  for (const [key, value] of entries) {
    if (INDEX_PREFIXES.includes(key[0] as string)) actual.set(keyText(key), value as string);
  }
  assert.deepEqual(
    [...actual.entries()].sort(),
    [...expected.entries()].sort(),
    "index keys match the job records",
  );
  for (const [key, value] of entries) {
    if (key[0] !== "count" && key[0] !== "queue_count") continue;
    const n = (value as Deno.KvU64).value;
    assert.equal(n, BigInt(counts.get(keyText(key)) ?? 0), `counter ${keyText(key)}`);
    counts.delete(keyText(key));
  }
  assert.deepEqual([...counts.keys()], [], "every counted key has a counter");
  const c = await countsGet(kv);
  for (const state of JOB_STATES) {
    assert.equal(c[state], jobs.filter((j) => j.state === state).length, `count of ${state}`);
  }
  assert.equal(
    c.scheduled,
    jobs.filter((j) => j.state === "pending" && j.next_run_at !== null).length,
    "count of scheduled",
  );
}

/** A claimed job as its worker records it after the command exited 0 (the lease holder). */
export function completedRun(job: Job, now = new Date()): Job {
  const next = finish(job, {
    now,
    leaseToken: job.lease_token!,
    outcome: { kind: "exited", code: 0 },
    backoff: { base: 2, maxSeconds: 3600, jitter: 0 },
  });
  assert.ok(next.ok, "the lease holder may finish the job");
  return next.job;
}
