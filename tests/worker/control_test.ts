import assert from "node:assert/strict";
import {
  controlNew,
  controlPoll,
  type ControlRequests,
  controlStop,
} from "../../lib/worker/control.ts";

/** Requests held in memory. */
function requests(stop: { force: boolean } | null, cancels: string[] = []): ControlRequests {
  return {
    stopRequest: () => Promise.resolve(stop),
    cancelRequests: (ids) => Promise.resolve(new Set(ids.filter((id) => cancels.includes(id)))),
  };
}

Deno.test("controlStop() is news once for a graceful stop and once more when forced; force kills running jobs", () => {
  const state = controlNew();
  const job = new AbortController();
  state.running.set("a", job);
  assert.equal(controlStop(state, false), true);
  assert.equal(state.stopping.signal.aborted, true);
  assert.equal(job.signal.aborted, false, "a graceful stop lets running jobs finish");
  assert.equal(controlStop(state, false), false);
  assert.equal(controlStop(state, true), true);
  assert.equal(job.signal.reason, "stopped");
  assert.equal(controlStop(state, true), false);
});

Deno.test("controlPoll() returns a stop request only while it is news, and cancels the running jobs asked for", async () => {
  const state = controlNew();
  const a = new AbortController(), b = new AbortController();
  state.running.set("a", a);
  state.running.set("b", b);
  const polled = await controlPoll(state, requests({ force: false }, ["b", "gone"]), "w-1");
  assert.deepEqual(polled, { stop: { force: false }, cancelled: ["b"] });
  assert.equal(b.signal.reason, "cancelled");
  assert.equal(a.signal.aborted, false);
  assert.equal(state.stopping.signal.aborted, false, "the caller applies the stop");
  controlStop(state, false);
  assert.deepEqual(await controlPoll(state, requests({ force: false }), "w-1"), {
    stop: null,
    cancelled: [],
  });
  assert.deepEqual((await controlPoll(state, requests({ force: true }), "w-1")).stop, {
    force: true,
  });
});
