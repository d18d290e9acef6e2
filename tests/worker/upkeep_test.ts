import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { type PeriodicTask, upkeepDue, upkeepNew, upkeepRun } from "../../lib/worker/upkeep.ts";
import { pruneTask } from "../../lib/worker/upkeep_tasks.ts";

const config = defaultConfig();

/** A task that records its runs; `fail` makes it throw. */
function task(
  name: string,
  options: Partial<PeriodicTask> & { every?: number; fail?: boolean } = {},
): PeriodicTask & { runs: number[] } {
  const runs: number[] = [];
  return {
    name,
    everyMs: () => options.every ?? 100,
    atStart: options.atStart,
    firstLaneOnly: options.firstLaneOnly,
    runs,
    run: (pass) => {
      runs.push(pass.now);
      return options.fail ? Promise.reject(new Error(`${name} broke`)) : Promise.resolve();
    },
  };
}

Deno.test("upkeepDue() runs atStart tasks in the first pass and the rest after one period", () => {
  const state = upkeepNew([task("a", { atStart: true }), task("b")], 1000);
  const names = (now: number, start = false) =>
    upkeepDue(state, { lane: 0, now, config, start }).map((t) => t.name);
  assert.deepEqual(names(1000, true), ["a"]);
  assert.deepEqual(names(1050), ["a"], "b waits a period from the start");
  assert.deepEqual(names(1100), ["a", "b"]);
});

Deno.test("upkeepDue() leaves firstLaneOnly tasks to lane 0 and skips tasks whose period is null", () => {
  const off: PeriodicTask = { ...task("off"), everyMs: () => null };
  const state = upkeepNew([task("first", { firstLaneOnly: true }), off], 0);
  assert.deepEqual(upkeepDue(state, { lane: 1, now: 500, config, start: false }), []);
  assert.deepEqual(
    upkeepDue(state, { lane: 0, now: 500, config, start: false }).map((t) => t.name),
    ["first"],
  );
});

Deno.test("upkeepRun() runs each due task once even when two lanes pass at the same time", async () => {
  const a = task("a", { every: 100 });
  const state = upkeepNew([a], 0);
  const [one, two] = await Promise.all([
    upkeepRun(state, { lane: 0, now: 200, config, start: false }),
    upkeepRun(state, { lane: 1, now: 200, config, start: false }),
  ]);
  assert.deepEqual(one, { kind: "done", ran: ["a"] });
  assert.deepEqual(two, { kind: "done", ran: [] });
  assert.deepEqual(a.runs, [200]);
  await upkeepRun(state, { lane: 1, now: 250, config, start: false });
  assert.deepEqual(a.runs, [200], "not again within its period");
});

Deno.test("upkeepRun() stops at a failing task and names it; the tasks after it wait", async () => {
  const broken = task("broken", { fail: true });
  const after = task("after");
  const state = upkeepNew([task("before"), broken, after], 0);
  const outcome = await upkeepRun(state, { lane: 0, now: 100, config, start: false });
  assert.equal(outcome.kind, "failed");
  assert.ok(outcome.kind === "failed");
  assert.equal(outcome.task, "broken");
  assert.deepEqual(outcome.ran, ["before"]);
  assert.deepEqual(after.runs, []);
});

Deno.test("upkeepNew() refuses two tasks of one name", () => {
  assert.throws(() => upkeepNew([task("x"), task("x")], 0), /distinct names/);
});

Deno.test("pruneTask() runs every half of keep-completed, within 250 ms and a minute, never at 0", () => {
  const prune = pruneTask(null as unknown as Deno.Kv, null as never);
  assert.equal(prune.everyMs({ ...config, "keep-completed": 0 }), null);
  assert.equal(prune.everyMs({ ...config, "keep-completed": 0.1 }), 250);
  assert.equal(prune.everyMs({ ...config, "keep-completed": 60 }), 30_000);
  assert.equal(prune.everyMs({ ...config, "keep-completed": 86_400 }), 60_000);
  assert.equal(prune.firstLaneOnly, true);
});
