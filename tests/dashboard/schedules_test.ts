import assert from "node:assert/strict";
import { newSchedule } from "../../lib/schedule.ts";
import { fireDueSchedules, scheduleAdd, scheduleSetPaused } from "../../lib/store/schedules.ts";
import { parsePrometheus, valueOf, withDashboard } from "./_fixtures.ts";

Deno.test("GET /api/schedules and /metrics show each schedule's fires, skips and misses", async () => {
  await withDashboard(async ({ kv, call }) => {
    const t0 = new Date("2030-01-01T00:00:30Z");
    for (const name of ["nightly", "off"]) {
      const created = newSchedule(
        { name, cron: "* * * * *", job: { command: `echo ${name}` }, cwd: "/tmp" },
        t0,
      );
      assert.equal((await scheduleAdd(kv, created)).kind, "added");
    }
    await scheduleSetPaused(kv, "off", { paused: true, now: t0 });
    // 00:01 fires; 00:02 is skipped (the first run is still pending); after a 3-minute gap
    // the latest tick (00:05) is skipped too and 00:03, 00:04 are missed.
    await fireDueSchedules(kv, new Date("2030-01-01T00:01:00Z"));
    await fireDueSchedules(kv, new Date("2030-01-01T00:02:00Z"));
    await fireDueSchedules(kv, new Date("2030-01-01T00:05:10Z"));

    const api = await call("GET", "/api/schedules");
    assert.equal(api.status, 200);
    const { schedules } = api.body as {
      schedules: { name: string; paused: boolean; last_job_id: string; last_job_state: string }[];
    };
    assert.deepEqual(
      schedules.map((s) => [s.name, s.paused, s.last_job_id, s.last_job_state]),
      [["nightly", false, "nightly:20300101T000100Z", "pending"], ["off", true, null, null]],
    );

    const metrics = await call("GET", "/metrics");
    const e = parsePrometheus(metrics.text);
    assert.equal(valueOf(e, "queuectl_schedules", { status: "active" }), 1);
    assert.equal(valueOf(e, "queuectl_schedules", { status: "paused" }), 1);
    assert.equal(valueOf(e, "queuectl_schedule_fires_total", { schedule: "nightly" }), 1);
    assert.equal(valueOf(e, "queuectl_schedule_skips_total", { schedule: "nightly" }), 2);
    assert.equal(valueOf(e, "queuectl_schedule_misses_total", { schedule: "nightly" }), 2);
    assert.equal(valueOf(e, "queuectl_schedule_fires_total", { schedule: "off" }), 0);

    const page = await call("GET", "/");
    assert.match(page.text, /<h2 id="h-schedules">Schedules/);
    const script = await call("GET", "/app.js");
    assert.match(script.text, /api\("GET", "\/api\/schedules"\)/);
  });
});
