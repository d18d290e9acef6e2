import assert from "node:assert/strict";
import {
  idle,
  type WakeSource,
  wakeSourcesListen,
  wakeUp,
  wakeupsNew,
} from "../../lib/worker/wakeups.ts";

Deno.test("idle() with a wake-up board ends at the next wake-up, long before its time", async () => {
  const state = wakeupsNew();
  const stop = new AbortController();
  const started = Date.now();
  const waiting = idle(60_000, { stop: stop.signal, wakeable: state });
  assert.equal(state.sleepers.size, 1);
  wakeUp(state);
  await waiting;
  assert.ok(Date.now() - started < 30_000);
  assert.equal(state.count, 1);
  assert.equal(state.sleepers.size, 0, "the wait is no longer registered");
});

Deno.test("idle() ends when the worker stops, and does not wait at all once it has", async () => {
  const stop = new AbortController();
  const waiting = idle(60_000, { stop: stop.signal });
  stop.abort();
  await waiting;
  await idle(60_000, { stop: stop.signal });
});

Deno.test("wakeSourcesListen() keeps the sources that can listen, each waking the board", async () => {
  const state = wakeupsNew();
  let poke: () => void = () => assert.fail("not listening");
  let closed = 0;
  const working: WakeSource = {
    name: "test",
    listen: (onWake) => {
      poke = onWake;
      return Promise.resolve({ close: () => Promise.resolve(void closed++) });
    },
  };
  const unavailable: WakeSource = { name: "none", listen: () => Promise.resolve(null) };
  const subscriptions = await wakeSourcesListen([unavailable, working], state);
  assert.equal(subscriptions.length, 1);
  poke();
  poke();
  assert.equal(state.count, 2);
  await subscriptions[0].close();
  assert.equal(closed, 1);
});
