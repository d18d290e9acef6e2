import assert from "node:assert/strict";
import { bucketOf, minuteOf, percentile, statDeltas, TIME_BUCKETS_MS } from "../lib/stats.ts";
import { defaultConfig } from "../lib/config.ts";
import { newJob, parseJobSpec } from "../lib/job_spec.ts";
import type { Attempt, Job } from "../lib/job.ts";

const T0 = new Date("2030-01-01T00:00:00.000Z");

function job(fields: Partial<Job> = {}): Job {
  const base = newJob(parseJobSpec({ id: "j", command: "true" }), {
    id: "j",
    now: T0,
    seq: 1,
    cwd: "/",
    config: defaultConfig(),
  });
  return { ...base, ...fields };
}

function attempt(code: number, ms: number): Attempt {
  return {
    job_id: "j",
    attempt: 1,
    worker_id: "w",
    host: "h",
    started_at: T0.toISOString(),
    finished_at: new Date(T0.getTime() + ms).toISOString(),
    duration_ms: ms,
    outcome: { kind: "exited", code },
    exit_code: code,
    error: null,
    output_tail: "",
  };
}

Deno.test("bucketOf() puts a duration in the first bucket whose bound holds it", () => {
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(5), 0);
  assert.equal(bucketOf(6), 1);
  assert.equal(bucketOf(1000), TIME_BUCKETS_MS.indexOf(1000));
  assert.equal(bucketOf(10 * 3_600_000), TIME_BUCKETS_MS.length - 1);
});

Deno.test("percentile() reads the bucket bound holding the rank, capped by the maximum", () => {
  const counts = new Array(TIME_BUCKETS_MS.length).fill(0);
  assert.equal(percentile(counts, 0.5, 100), null);
  counts[bucketOf(3)] = 9; // nine fast runs
  counts[bucketOf(700)] = 1; // one slow run
  assert.equal(percentile(counts, 0.5, 700), 5);
  assert.equal(percentile(counts, 0.95, 700), 700, "the slow run's bucket (1000) capped at max");
  assert.equal(
    minuteOf(Date.parse("2030-01-01T00:01:59.999Z")),
    Date.parse("2030-01-01T00:01:00Z"),
  );
});

Deno.test("statDeltas() counts attempts, failures, run time and final states", () => {
  const running = job({ state: "processing", attempts: 1, started_at: T0.toISOString() });
  const done = statDeltas(running, { ...running, state: "completed" }, attempt(0, 30));
  assert.deepEqual(done, [
    { kind: "add", field: "attempts", by: 1 },
    { kind: "add", field: `rt:${bucketOf(30)}`, by: 1 },
    { kind: "max", field: "rt_max", value: 30 },
    { kind: "add", field: "completed", by: 1 },
  ]);
  const failed = statDeltas(running, { ...running, state: "dead" }, attempt(3, 10));
  assert.ok(failed.some((d) => d.kind === "add" && d.field === "failed"));
  assert.ok(failed.some((d) => d.kind === "add" && d.field === "dead"));
  // A claim records how long the job waited since it became ready.
  const pending = job({ updated_at: T0.toISOString() });
  const claimed = {
    ...pending,
    state: "processing" as const,
    started_at: new Date(T0.getTime() + 40).toISOString(),
  };
  assert.deepEqual(statDeltas(pending, claimed), [
    { kind: "add", field: `wait:${bucketOf(40)}`, by: 1 },
  ]);
});
