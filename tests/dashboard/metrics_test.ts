import assert from "node:assert/strict";
import { metricsText } from "../../lib/dashboard/metrics.ts";
import { familyOf, parsePrometheus, spawnDashboard, valueOf } from "./_fixtures.ts";
import { cli, tempHome } from "../_helpers/cli.ts";

Deno.test("GET /metrics after 3 jobs run (1 dead) and 1 delayed reports them in valid Prometheus text", async () => {
  const home = await tempHome();
  let proc: Awaited<ReturnType<typeof spawnDashboard>> | null = null;
  try {
    const jobs = [
      { id: "ok1", command: "echo one" },
      { id: "ok2", command: "sleep 0.3" },
      { id: "bad", command: "echo boom >&2; exit 3", max_retries: 0 },
      { id: "later", command: "true", delay: 3600 },
    ].map((j) => JSON.stringify(j)).join("\n");
    const enq = await cli(home, ["enqueue", "-"], { stdin: jobs + "\n" });
    assert.equal(enq.code, 0, enq.stderr);
    const run = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(run.code, 1, `drain exits 1 when a job ended dead: ${run.stderr}`);

    proc = await spawnDashboard(home, ["--port", "0"]);
    const res = await fetch(`${proc.link}metrics`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const e = parsePrometheus(text);

    // Every sample belongs to a family with HELP and TYPE; counters end in _total.
    for (const s of e.samples) {
      const family = familyOf(s.name, e.types);
      assert.ok(e.types.has(family), `no TYPE for ${s.name}`);
      assert.ok(e.help.has(family), `no HELP for ${s.name}`);
      if (e.types.get(family) === "counter") assert.match(s.name, /_total$/);
    }

    const jobsIn = (state: string) => valueOf(e, "queuectl_jobs", { state });
    assert.deepEqual(
      ["pending", "processing", "completed", "failed", "dead", "cancelled"].map(jobsIn),
      [1, 0, 2, 0, 1, 0],
    );
    assert.equal(e.types.get("queuectl_jobs"), "gauge");
    assert.equal(valueOf(e, "queuectl_jobs_scheduled"), 1);
    assert.equal(valueOf(e, "queuectl_jobs_finished_total", { state: "completed" }), 2);
    assert.equal(valueOf(e, "queuectl_jobs_finished_total", { state: "dead" }), 1);
    assert.equal(valueOf(e, "queuectl_jobs_finished_total", { state: "cancelled" }), 0);
    assert.equal(valueOf(e, "queuectl_attempts_total"), 3);
    assert.equal(valueOf(e, "queuectl_attempts_failed_total"), 1);
    assert.equal(valueOf(e, "queuectl_workers"), 0);
    const age = valueOf(e, "queuectl_oldest_pending_job_age_seconds");
    assert.ok(age > 0 && age < 600, `oldest pending age ${age}`);

    // The histogram: cumulative, le in seconds ending at +Inf, +Inf equal to _count.
    assert.equal(e.types.get("queuectl_attempt_duration_seconds"), "histogram");
    const buckets = e.samples.filter((s) => s.name === "queuectl_attempt_duration_seconds_bucket");
    const les = buckets.map((b) => b.labels.le);
    assert.equal(les.at(-1), "+Inf");
    assert.ok(les.includes("0.005") && les.includes("1") && les.includes("3600"), les.join());
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(Number(les[i]) > Number(les[i - 1]) || les[i] === "+Inf", "le increasing");
      assert.ok(buckets[i].value >= buckets[i - 1].value, "buckets cumulative");
    }
    assert.equal(buckets.at(-1)!.value, 3);
    assert.equal(valueOf(e, "queuectl_attempt_duration_seconds_count"), 3);
    // The 0.3s sleep cannot finish within 0.25s, so at most 2 attempts sit at or below it.
    const at = (le: string) => buckets.find((b) => b.labels.le === le)!.value;
    assert.ok(at("0.25") <= 2, `le=0.25 holds ${at("0.25")}`);
  } finally {
    await proc?.kill();
    await home.cleanup();
  }
});

Deno.test("metricsText() renders le in seconds, one +Inf bucket and each family once", () => {
  const text = metricsText({
    counts: {
      pending: 1,
      processing: 2,
      completed: 3,
      failed: 4,
      dead: 5,
      cancelled: 6,
      scheduled: 1,
      blocked: 0,
      crashed: 0,
    },
    totals: {
      completed: 3,
      failed: 7,
      dead: 5,
      cancelled: 6,
      attempts: 20,
      run_time_buckets: [
        { le_ms: 5, count: 1 },
        { le_ms: 1000, count: 4 },
        { le_ms: Infinity, count: 20 },
      ],
    },
    workers: 2,
    oldest_pending_age_seconds: 12.3456,
    schedules: [
      { name: "nightly", paused: false, fires: 7, skips: 2, misses: 1 },
      { name: "off", paused: true, fires: 0, skips: 0, misses: 0 },
    ],
  });
  const e = parsePrometheus(text);
  assert.equal(
    e.samples.filter((s) => s.labels.le === "+Inf").length,
    1,
  );
  assert.equal(valueOf(e, "queuectl_attempt_duration_seconds_bucket", { le: "0.005" }), 1);
  assert.equal(valueOf(e, "queuectl_attempt_duration_seconds_bucket", { le: "1" }), 4);
  assert.equal(valueOf(e, "queuectl_attempt_duration_seconds_count"), 20);
  assert.equal(valueOf(e, "queuectl_jobs", { state: "cancelled" }), 6);
  assert.equal(valueOf(e, "queuectl_workers"), 2);
  assert.equal(valueOf(e, "queuectl_oldest_pending_job_age_seconds"), 12.346);
  assert.equal(valueOf(e, "queuectl_schedules", { status: "active" }), 1);
  assert.equal(valueOf(e, "queuectl_schedules", { status: "paused" }), 1);
  assert.equal(valueOf(e, "queuectl_schedule_fires_total", { schedule: "nightly" }), 7);
  assert.equal(valueOf(e, "queuectl_schedule_skips_total", { schedule: "nightly" }), 2);
  assert.equal(valueOf(e, "queuectl_schedule_misses_total", { schedule: "nightly" }), 1);
  assert.equal(text.split("\n").filter((l) => l.startsWith("# TYPE")).length, 12);
});
