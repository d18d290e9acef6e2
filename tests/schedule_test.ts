import assert from "node:assert/strict";
import { defaultConfig } from "../lib/config.ts";
import { cronDueTicks, cronNext, cronNextMany, parseCron, WALK_LIMIT } from "../lib/cron.ts";
import type { Job } from "../lib/job.ts";
import {
  decideFiring,
  firedJob,
  manualJobId,
  newSchedule,
  type Schedule,
  scheduleJobId,
  schedulePaused,
  type ScheduleState,
} from "../lib/schedule.ts";
import { assertUsage } from "./_helpers/assert.ts";

const at = (iso: string) => new Date(iso);
const ms = (iso: string) => Date.parse(iso);

function make(
  cron: string,
  now: string,
  over: { tz?: string; overlap?: string; catch_up?: number } = {},
): { schedule: Schedule; state: ScheduleState } {
  return newSchedule({ name: "s", cron, job: { command: "true" }, cwd: "/w", ...over }, at(now));
}

/** A job in a state, as far as firing decisions look at it. */
function jobIn(state: Job["state"], id = "s:20300101T000000Z"): Job {
  const job = firedJob(make("* * * * *", "2030-01-01T00:00:00Z").schedule, {
    id,
    now: at("2030-01-01T00:00:00Z"),
    seq: 1,
    config: defaultConfig(),
    after: null,
  });
  return { ...job, state };
}

/**
 * Runs the firing decisions of one schedule under a fake clock, from `from` to `to` in steps
 * of `stepMs`, applying each decision to the state (as the store does); returns the ticks
 * fired, as ISO times.
 */
function simulate(
  created: { schedule: Schedule; state: ScheduleState },
  from: string,
  to: string,
  stepMs: number,
): string[] {
  let state = created.state;
  const fired: string[] = [];
  for (let now = ms(from); now <= ms(to); now += stepMs) {
    for (;;) {
      const d = decideFiring({ schedule: created.schedule, state }, {
        now: new Date(now),
        lastJob: null,
      });
      if (d.kind !== "fire" && d.kind !== "skip") break;
      if (d.kind === "fire") fired.push(d.tick.toISOString());
      state = d.state;
    }
  }
  return fired;
}

Deno.test("decideFiring() fires every tick of '*/15 * * * *' at its time under a fake clock", () => {
  const created = make("*/15 * * * *", "2030-01-01T00:01:00Z");
  assert.equal(created.state.next_fire_at, "2030-01-01T00:15:00.000Z");
  const fired = simulate(created, "2030-01-01T00:01:00Z", "2030-01-01T01:05:00Z", 7_000);
  assert.deepEqual(fired, [
    "2030-01-01T00:15:00.000Z",
    "2030-01-01T00:30:00.000Z",
    "2030-01-01T00:45:00.000Z",
    "2030-01-01T01:00:00.000Z",
  ]);
});

Deno.test("decideFiring() is not due a millisecond before the tick, and due at it", () => {
  const { schedule, state } = make("0 3 * * *", "2030-01-01T12:00:00Z");
  const before = decideFiring({ schedule, state }, {
    now: at("2030-01-02T02:59:59.999Z"),
    lastJob: null,
  });
  assert.deepEqual(before, { kind: "not_due", next_fire_at: "2030-01-02T03:00:00.000Z" });
  const due = decideFiring({ schedule, state }, { now: at("2030-01-02T03:00:00Z"), lastJob: null });
  assert.equal(due.kind, "fire");
  if (due.kind !== "fire") return;
  assert.equal(due.tick.toISOString(), "2030-01-02T03:00:00.000Z");
  assert.equal(due.missed, 0);
  assert.equal(due.state.next_fire_at, "2030-01-03T03:00:00.000Z");
  assert.equal(due.state.last_job_id, "s:20300102T030000Z");
  assert.equal(due.state.fires, 1);
});

Deno.test("decideFiring() reads the expression in --tz, across a DST change", () => {
  // 03:00 in New York is 08:00 UTC in winter, 07:00 UTC once DST starts (2030-03-10).
  const created = make("0 3 * * *", "2030-03-08T00:00:00Z", { tz: "America/New_York" });
  const fired = simulate(created, "2030-03-08T00:00:00Z", "2030-03-11T12:00:00Z", 600_000);
  assert.deepEqual(fired, [
    "2030-03-08T08:00:00.000Z",
    "2030-03-09T08:00:00.000Z",
    "2030-03-10T07:00:00.000Z",
    "2030-03-11T07:00:00.000Z",
  ]);
});

Deno.test("decideFiring() after downtime fires only the latest tick by default and counts the misses", () => {
  const { schedule, state } = make("0 * * * *", "2030-01-01T00:30:00Z");
  // Down from 00:30 to 05:10: the ticks 01:00 … 05:00 are due.
  const d = decideFiring({ schedule, state }, { now: at("2030-01-01T05:10:00Z"), lastJob: null });
  assert.equal(d.kind, "fire");
  if (d.kind !== "fire") return;
  assert.equal(d.tick.toISOString(), "2030-01-01T05:00:00.000Z");
  assert.equal(d.missed, 4);
  assert.equal(d.state.misses, 4);
  assert.equal(d.state.next_fire_at, "2030-01-01T06:00:00.000Z");
});

Deno.test("decideFiring() with --catch-up 3 fires the 3 latest missed ticks in order", () => {
  const created = make("0 * * * *", "2030-01-01T00:30:00Z", { catch_up: 3, overlap: "allow" });
  const fired = simulate(created, "2030-01-01T05:10:00Z", "2030-01-01T05:10:00Z", 1);
  assert.deepEqual(fired, [
    "2030-01-01T03:00:00.000Z",
    "2030-01-01T04:00:00.000Z",
    "2030-01-01T05:00:00.000Z",
  ]);
});

Deno.test("decideFiring() catches up after a downtime too long to walk (estimated misses)", () => {
  // Every second, down for a day: 86 400 due ticks, far more than one walk visits.
  const created = make("* * * * * *", "2030-01-01T00:00:00.500Z", { catch_up: 2 });
  const d = decideFiring(created, {
    now: at("2030-01-02T00:00:00.200Z"),
    lastJob: null,
  });
  assert.equal(d.kind, "fire");
  if (d.kind !== "fire") return;
  assert.equal(d.tick.toISOString(), "2030-01-01T23:59:59.000Z");
  assert.ok(Math.abs(d.missed - (86_400 - 2)) <= 2, `missed ${d.missed}`);
});

Deno.test("cronDueTicks() counts exactly up to WALK_LIMIT ticks", () => {
  const from = ms("2030-01-01T00:00:00Z");
  const due = cronDueTicks({ cron: "* * * * * *", tz: "UTC" }, {
    fromMs: from,
    nowMs: from + (WALK_LIMIT - 1) * 1000,
    keep: 1,
  });
  assert.equal(due.exact, true);
  assert.equal(due.earlier, WALK_LIMIT - 1);
  assert.deepEqual(due.latest, [from + (WALK_LIMIT - 1) * 1000]);
});

Deno.test("decideFiring() with overlap skip skips a tick while the last run is unfinished", () => {
  const { schedule, state } = make("* * * * *", "2030-01-01T00:00:30Z");
  for (const running of ["pending", "processing", "failed"] as const) {
    const d = decideFiring({ schedule, state: { ...state, last_job_id: "s:x" } }, {
      now: at("2030-01-01T00:01:00Z"),
      lastJob: jobIn(running, "s:x"),
    });
    assert.equal(d.kind, "skip", running);
    if (d.kind !== "skip") return;
    assert.equal(d.running, "s:x");
    assert.equal(d.state.skips, 1);
    assert.equal(d.state.last_outcome, "skipped");
    assert.equal(d.state.last_job_id, "s:x");
    assert.equal(d.state.next_fire_at, "2030-01-01T00:02:00.000Z");
  }
  for (const finished of ["completed", "dead", "cancelled"] as const) {
    const d = decideFiring({ schedule, state }, {
      now: at("2030-01-01T00:01:00Z"),
      lastJob: jobIn(finished, "s:x"),
    });
    assert.equal(d.kind, "fire", finished);
  }
});

Deno.test("decideFiring() with overlap queue fires a job that waits for the unfinished last run", () => {
  const { schedule, state } = make("* * * * *", "2030-01-01T00:00:30Z", { overlap: "queue" });
  const d = decideFiring({ schedule, state }, {
    now: at("2030-01-01T00:01:00Z"),
    lastJob: jobIn("processing", "s:x"),
  });
  assert.equal(d.kind, "fire");
  if (d.kind !== "fire") return;
  assert.equal(d.after, "s:x");
  const job = firedJob(schedule, {
    id: scheduleJobId("s", d.tick.getTime()),
    now: d.tick,
    seq: 1,
    config: defaultConfig(),
    after: d.after,
  });
  assert.deepEqual([job.after, job.waiting_on, job.after_any], [["s:x"], ["s:x"], true]);
  assert.equal(job.schedule, "s");
});

Deno.test("decideFiring() with overlap allow fires while the last run is unfinished", () => {
  const { schedule, state } = make("* * * * *", "2030-01-01T00:00:30Z", { overlap: "allow" });
  const d = decideFiring({ schedule, state }, {
    now: at("2030-01-01T00:01:00Z"),
    lastJob: jobIn("processing", "s:x"),
  });
  assert.equal(d.kind, "fire");
  if (d.kind === "fire") assert.equal(d.after, null);
});

Deno.test("decideFiring() never fires a paused schedule; resuming starts after now", () => {
  const created = make("* * * * *", "2030-01-01T00:00:30Z");
  const paused = schedulePaused(created, { paused: true, now: at("2030-01-01T00:00:40Z") });
  assert.deepEqual(
    decideFiring(paused, { now: at("2030-01-01T09:00:00Z"), lastJob: null }),
    { kind: "paused" },
  );
  const resumed = schedulePaused(paused, { paused: false, now: at("2030-01-01T09:00:10Z") });
  assert.equal(resumed.state.next_fire_at, "2030-01-01T09:01:00.000Z");
});

Deno.test("fired job ids derive from the schedule and the tick", () => {
  assert.equal(scheduleJobId("nightly", ms("2030-01-02T03:00:00Z")), "nightly:20300102T030000Z");
  assert.equal(
    manualJobId("nightly", ms("2030-01-02T03:00:00.123Z")),
    "nightly:run-20300102T030000123Z",
  );
});

Deno.test("newSchedule() accepts @hourly/@daily, 6 fields and IANA zones", () => {
  assert.equal(
    make("@hourly", "2030-01-01T00:10:00Z").state.next_fire_at,
    "2030-01-01T01:00:00.000Z",
  );
  assert.equal(
    make("@daily", "2030-01-01T00:10:00Z").state.next_fire_at,
    "2030-01-02T00:00:00.000Z",
  );
  assert.equal(
    make("*/10 * * * * *", "2030-01-01T00:00:01Z").state.next_fire_at,
    "2030-01-01T00:00:10.000Z",
  );
  const berlin = make("0 9 * * 1", "2030-01-01T00:00:00Z", { tz: "Europe/Berlin" });
  assert.equal(berlin.state.next_fire_at, "2030-01-07T08:00:00.000Z");
  assert.deepEqual(
    cronNextMany({ cron: "0 0 1 * *", tz: "UTC" }, { afterMs: ms("2030-01-15T00:00:00Z"), n: 2 })
      .map((t) => new Date(t).toISOString()),
    ["2030-02-01T00:00:00.000Z", "2030-03-01T00:00:00.000Z"],
  );
  assert.equal(cronNext({ cron: "0 0 30 2 *", tz: "UTC" }, ms("2030-01-01T00:00:00Z")), null);
});

Deno.test("cronNextMany() reads day-of-month and day-of-week as either one, as cron does", () => {
  // The 13th, or any Friday: 2030-09-06 and 2030-09-13 are Fridays, 2030-09-13 is also the 13th.
  const ticks = cronNextMany({ cron: "0 0 13 * 5", tz: "UTC" }, {
    afterMs: ms("2030-09-01T00:00:00Z"),
    n: 4,
  });
  assert.deepEqual(ticks.map((t) => new Date(t).toISOString().slice(0, 10)), [
    "2030-09-06",
    "2030-09-13",
    "2030-09-20",
    "2030-09-27",
  ]);
  const oct = cronNextMany({ cron: "0 0 13 * 5", tz: "UTC" }, {
    afterMs: ms("2030-10-10T00:00:00Z"),
    n: 2,
  });
  assert.deepEqual(oct.map((t) => new Date(t).toISOString().slice(0, 10)), [
    "2030-10-11",
    "2030-10-13",
  ]);
});

Deno.test("parseCron() rejects bad expressions naming the field", () => {
  assertUsage(() => parseCron("61 * * * *"), /minute field "61" is out of range/);
  assertUsage(() => parseCron("* 24 * * *"), /hour field "24" is out of range/);
  assertUsage(() => parseCron("* * 32 * *"), /day-of-month field "32" is out of range/);
  assertUsage(() => parseCron("* * * 13 *"), /month field "13" is out of range/);
  assertUsage(() => parseCron("* * * * 8"), /day-of-week field "8" is out of range/);
  assertUsage(() => parseCron("x * * * *"), /minute field "x" is not valid/);
  assertUsage(() => parseCron("* * * JANX *"), /month field "JANX" is not valid/);
  assertUsage(() => parseCron("*/0 * * * *"), /minute field "\*\/0": illegal stepping/);
  assertUsage(() => parseCron("60 * * * * *"), /second field "60" is out of range/);
  assertUsage(() => parseCron("* * * *"), /4 fields; expected 5 fields/);
  assertUsage(() => parseCron("@reboot"), /1 field; expected 5 fields/);
  assertUsage(() => parseCron(""), /0 fields; expected 5 fields/);
});

Deno.test("newSchedule() rejects a bad zone, name, overlap, catch-up or job field", () => {
  const base = { name: "s", cron: "@daily", job: { command: "true" }, cwd: "/w" };
  const now = at("2030-01-01T00:00:00Z");
  assertUsage(
    () => newSchedule({ ...base, tz: "Mars/Olympus" }, now),
    /Invalid --tz "Mars\/Olympus"/,
  );
  assertUsage(() => newSchedule({ ...base, name: "a:b" }, now), /Invalid schedule name "a:b"/);
  assertUsage(() => newSchedule({ ...base, overlap: "never" }, now), /Invalid --overlap "never"/);
  assertUsage(() => newSchedule({ ...base, catch_up: 0 }, now), /Invalid --catch-up "0"/);
  assertUsage(
    () => newSchedule({ ...base, job: { command: "true", unique_key: "k" } }, now),
    /"unique_key" names one job/,
  );
  assertUsage(() => newSchedule({ ...base, job: { command: " " } }, now), /"command" must be/);
});
