import assert from "node:assert/strict";
import { newSchedule } from "../../lib/schedule.ts";
import { jobClaimNext } from "../../lib/store/claim.ts";
import { jobCommitChange, jobGet, jobList } from "../../lib/store/jobs.ts";
import {
  fireDueSchedules,
  type FiringOutcome,
  scheduleAdd,
  scheduleRemove,
  scheduleRunNow,
  scheduleSetPaused,
} from "../../lib/store/schedules.ts";
import { scheduleGet, scheduleViews } from "../../lib/store/schedule_views.ts";
import { SCHEDULE_DUE_PREFIX } from "../../lib/store/keys.ts";
import { queueSettingsUpdate } from "../../lib/store/queues.ts";
import { assertConsistent, completedRun, dump, tempKv } from "./_kv.ts";
import { startKvServer } from "../_helpers/kv_connect_server.ts";

const at = (iso: string) => new Date(iso);

async function add(
  kv: Deno.Kv,
  name: string,
  cron: string,
  now: string,
  over: { overlap?: string; catch_up?: number } = {},
): Promise<void> {
  const created = newSchedule(
    { name, cron, job: { command: `echo ${name}`, queue: "cron" }, cwd: "/tmp", ...over },
    at(now),
  );
  assert.equal((await scheduleAdd(kv, created)).kind, "added");
}

const kinds = (outcomes: FiringOutcome[]) => outcomes.map((o) => o.kind);

Deno.test("fireDueSchedules() enqueues one job per tick, at the tick, marked with the schedule", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "quarter", "*/15 * * * *", "2030-01-01T00:01:00Z", { overlap: "allow" });
    assert.deepEqual(await fireDueSchedules(kv, at("2030-01-01T00:14:59.999Z")), []);
    const fired = await fireDueSchedules(kv, at("2030-01-01T00:15:00.200Z"));
    assert.deepEqual(kinds(fired), ["fired", "not_due"]);
    assert.deepEqual(await fireDueSchedules(kv, at("2030-01-01T00:15:01Z")), []);
    await fireDueSchedules(kv, at("2030-01-01T00:30:00.100Z"));
    const jobs = await jobList(kv, {});
    assert.deepEqual(jobs.map((j) => j.id).sort(), [
      "quarter:20300101T001500Z",
      "quarter:20300101T003000Z",
    ]);
    for (const job of jobs) {
      assert.equal(job.schedule, "quarter");
      assert.equal(job.queue, "cron");
      assert.equal(job.command, "echo quarter");
      assert.equal(job.state, "pending");
    }
    // A queue's exit-code policy applies to fired jobs, as to enqueued ones.
    await queueSettingsUpdate(kv, "cron", { retry_on: [75] });
    await fireDueSchedules(kv, at("2030-01-01T00:45:00Z"));
    assert.deepEqual((await jobGet(kv, "quarter:20300101T004500Z"))!.job.retry_on, [75]);
    const entry = (await scheduleGet(kv, "quarter"))!;
    assert.equal(entry.state.next_fire_at, "2030-01-01T01:00:00.000Z");
    assert.equal(entry.state.fires, 3);
    assert.equal(entry.state.last_job_id, "quarter:20300101T004500Z");
    // The due index holds exactly the next tick.
    const due = (await dump(kv)).filter(([k]) => k[0] === SCHEDULE_DUE_PREFIX[0]).map(([k]) => k);
    assert.deepEqual(due, [["schedule_due", Date.parse("2030-01-01T01:00:00Z"), "quarter"]]);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("fireDueSchedules() from 8 handles at once fires each of 20 ticks exactly once", async () => {
  const t = await tempKv();
  try {
    await add(t.kv, "sec", "* * * * * *", "2030-01-01T00:00:00.500Z", { overlap: "allow" });
    const handles = await Promise.all(Array.from({ length: 8 }, () => t.open()));
    const all: FiringOutcome[] = [];
    for (let s = 1; s <= 20; s++) {
      const now = new Date(Date.parse("2030-01-01T00:00:00.100Z") + s * 1000);
      for (const outcomes of await Promise.all(handles.map((kv) => fireDueSchedules(kv, now)))) {
        all.push(...outcomes);
      }
    }
    assert.equal(all.filter((o) => o.kind === "fired").length, 20);
    const jobs = await jobList(t.kv, {});
    assert.equal(jobs.length, 20);
    assert.equal(new Set(jobs.map((j) => j.id)).size, 20);
    assert.equal((await scheduleGet(t.kv, "sec"))!.state.fires, 20);
    await assertConsistent(t.kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("fireDueSchedules() with overlap skip records a skip while the last run is unfinished", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "min", "* * * * *", "2030-01-01T00:00:30Z");
    await fireDueSchedules(kv, at("2030-01-01T00:01:00Z"));
    const skipped = await fireDueSchedules(kv, at("2030-01-01T00:02:00Z"));
    assert.equal(skipped[0].kind, "skipped");
    if (skipped[0].kind === "skipped") assert.equal(skipped[0].running, "min:20300101T000100Z");
    // The run completes: the next tick fires again.
    const claimed = await jobClaimNext(kv, {
      workerId: "w",
      leaseSeconds: 30,
      now: at("2030-01-01T00:02:01Z"),
    });
    assert.equal(claimed.kind, "claimed");
    if (claimed.kind !== "claimed") return;
    assert.ok(await jobCommitChange(kv, claimed.entry, completedRun(claimed.entry.job)));
    assert.deepEqual(kinds(await fireDueSchedules(kv, at("2030-01-01T00:03:00Z"))), [
      "fired",
      "not_due",
    ]);
    const [view] = await scheduleViews(kv);
    assert.deepEqual([view.fires, view.skips, view.misses], [2, 1, 0]);
    assert.equal(view.last_job_id, "min:20300101T000300Z");
    assert.equal(view.last_job_state, "pending");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("fireDueSchedules() with overlap queue makes the tick's job wait for the last run", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "q", "* * * * *", "2030-01-01T00:00:30Z", { overlap: "queue" });
    await fireDueSchedules(kv, at("2030-01-01T00:01:00Z"));
    await fireDueSchedules(kv, at("2030-01-01T00:02:00Z"));
    const second = (await jobGet(kv, "q:20300101T000200Z"))!.job;
    assert.deepEqual(second.waiting_on, ["q:20300101T000100Z"]);
    assert.equal(second.after_any, true);
    await assertConsistent(kv);
    // The first one finishes (whatever its outcome): the second is released.
    const claimed = await jobClaimNext(kv, {
      workerId: "w",
      leaseSeconds: 30,
      now: at("2030-01-01T00:02:01Z"),
    });
    assert.equal(claimed.kind, "claimed");
    if (claimed.kind !== "claimed") return;
    assert.equal(claimed.entry.job.id, "q:20300101T000100Z");
    assert.ok(await jobCommitChange(kv, claimed.entry, completedRun(claimed.entry.job)));
    assert.deepEqual((await jobGet(kv, "q:20300101T000200Z"))!.job.waiting_on, []);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("fireDueSchedules() after downtime fires the latest --catch-up ticks and counts misses", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "one", "0 * * * *", "2030-01-01T00:30:00Z");
    await add(kv, "three", "0 * * * *", "2030-01-01T00:30:00Z", {
      catch_up: 3,
      overlap: "allow",
    });
    await fireDueSchedules(kv, at("2030-01-01T06:10:00Z"));
    const ids = (await jobList(kv, {})).map((j) => j.id).sort();
    assert.deepEqual(ids, [
      "one:20300101T060000Z",
      "three:20300101T040000Z",
      "three:20300101T050000Z",
      "three:20300101T060000Z",
    ]);
    const views = await scheduleViews(kv);
    assert.deepEqual(views.map((v) => [v.name, v.fires, v.misses]), [["one", 1, 5], [
      "three",
      3,
      3,
    ]]);
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a paused schedule does not fire; resumed, it fires from the next tick; removed, never", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "p", "* * * * *", "2030-01-01T00:00:30Z");
    await scheduleSetPaused(kv, "p", { paused: true, now: at("2030-01-01T00:00:40Z") });
    assert.deepEqual(await fireDueSchedules(kv, at("2030-01-01T00:05:00Z")), []);
    await scheduleSetPaused(kv, "p", { paused: false, now: at("2030-01-01T00:05:10Z") });
    assert.deepEqual(await fireDueSchedules(kv, at("2030-01-01T00:05:59Z")), []);
    assert.deepEqual(kinds(await fireDueSchedules(kv, at("2030-01-01T00:06:00Z"))), [
      "fired",
      "not_due",
    ]);
    assert.equal((await scheduleRemove(kv, "p")).kind, "changed");
    assert.deepEqual(await fireDueSchedules(kv, at("2030-01-01T00:09:00Z")), []);
    assert.equal((await scheduleRemove(kv, "p")).kind, "not_found");
    const left = (await dump(kv)).filter(([k]) => String(k[0]).startsWith("schedule"));
    assert.deepEqual(left, []);
  } finally {
    await t.cleanup();
  }
});

Deno.test("scheduleRunNow() fires now without moving the next tick", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "r", "0 3 * * *", "2030-01-01T00:00:00Z");
    const run = await scheduleRunNow(kv, "r", { now: at("2030-01-01T00:10:00.250Z") });
    assert.equal(run.kind, "fired");
    if (run.kind !== "fired") return;
    assert.equal(run.job.id, "r:run-20300101T001000250Z");
    assert.equal(run.job.schedule, "r");
    const entry = (await scheduleGet(kv, "r"))!;
    assert.equal(entry.state.next_fire_at, "2030-01-01T03:00:00.000Z");
    assert.equal(entry.state.last_job_id, run.job.id);
    assert.equal((await scheduleRunNow(kv, "nope", { now: new Date() })).kind, "not_found");
    // A second run in the same millisecond gets the next millisecond's id.
    const again = await scheduleRunNow(kv, "r", { now: at("2030-01-01T00:10:00.250Z") });
    assert.equal(again.kind === "fired" && again.job.id, "r:run-20300101T001000251Z");
    await assertConsistent(kv);
  } finally {
    await t.cleanup();
  }
});

Deno.test("scheduleAdd() refuses a name that exists, leaving it unchanged", async () => {
  const t = await tempKv();
  try {
    const { kv } = t;
    await add(kv, "n", "0 3 * * *", "2030-01-01T00:00:00Z");
    const again = newSchedule(
      { name: "n", cron: "@hourly", job: { command: "other" }, cwd: "/" },
      at("2030-01-01T00:00:00Z"),
    );
    const outcome = await scheduleAdd(kv, again);
    assert.equal(outcome.kind, "exists");
    assert.equal((await scheduleGet(kv, "n"))!.schedule.cron, "0 3 * * *");
  } finally {
    await t.cleanup();
  }
});

Deno.test("fireDueSchedules() over KV Connect: 4 clients fire 20 ticks once each, overlap queue and catch-up within 10 checks", async () => {
  const server = await startKvServer();
  Deno.env.set("DENO_KV_ACCESS_TOKEN", server.token);
  const handles = await Promise.all(Array.from({ length: 4 }, () => Deno.openKv(server.url)));
  const [kv] = handles;
  try {
    await add(kv, "sec", "* * * * * *", "2030-01-01T00:00:00.500Z", { overlap: "queue" });
    await add(kv, "hourly", "0 * * * *", "2030-01-01T00:00:00.500Z", {
      catch_up: 3,
      overlap: "allow",
    });
    const all: FiringOutcome[] = [];
    for (let s = 1; s <= 20; s++) {
      const now = new Date(Date.parse("2030-01-01T00:00:00.100Z") + s * 1000);
      for (const outcomes of await Promise.all(handles.map((h) => fireDueSchedules(h, now)))) {
        all.push(...outcomes);
      }
    }
    assert.equal(all.filter((o) => o.kind === "fired").length, 20);
    const jobs = await jobList(kv, { limit: 100 });
    assert.equal(jobs.length, 20);
    // Each tick's job waits for the one before (overlap queue: none of them ran).
    const sorted = jobs.sort((a, b) => a.id.localeCompare(b.id));
    for (let i = 1; i < sorted.length; i++) {
      assert.deepEqual(sorted[i].waiting_on, [sorted[i - 1].id]);
    }
    // Down for 5 hours: the 3 latest hourly ticks fire, the 2 before are missed.
    const late = await Promise.all(
      handles.map((h) => fireDueSchedules(h, at("2030-01-01T05:30:00Z"))),
    );
    const hourly = late.flat().filter((o) => o.name === "hourly" && o.kind === "fired");
    assert.deepEqual(
      hourly.map((o) => o.kind === "fired" && o.job.id).sort(),
      ["hourly:20300101T030000Z", "hourly:20300101T040000Z", "hourly:20300101T050000Z"],
    );
    assert.equal((await scheduleGet(kv, "hourly"))!.state.misses, 2);
    await assertConsistent(kv);
  } finally {
    for (const h of handles) h.close();
    await server.stop();
  }
});
