import assert from "node:assert/strict";
import { renderProgress } from "../lib/output/progress.ts";

Deno.test("renderProgress() shows the bar, done/total, the rate and the time left", () => {
  assert.equal(
    renderProgress({ done: 50, total: 200, elapsedMs: 5000, dead: 0 }, { width: 20 }),
    "[#####...............]  50/200 jobs  10.0/s  ETA 15s",
  );
  assert.equal(
    renderProgress({ done: 3, total: 3, elapsedMs: 1000, dead: 1 }, { width: 4 }),
    "[####] 3/3 jobs  3.0/s  ETA 0ms  1 dead",
  );
  assert.equal(
    renderProgress({ done: 0, total: 10, elapsedMs: 0, dead: 0 }, { width: 4 }),
    "[....]  0/10 jobs  0.0/s  ETA -",
  );
});
