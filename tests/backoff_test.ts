import assert from "node:assert/strict";
import { type BackoffSettings, nextRunAt, retryDelaySeconds } from "../lib/backoff.ts";

const settings = (over: Partial<BackoffSettings> = {}): BackoffSettings => ({
  base: 2,
  maxSeconds: 3600,
  jitter: 0,
  ...over,
});

Deno.test("retryDelaySeconds() is exactly base ^ attempts", () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => retryDelaySeconds(n, settings())), [
    1,
    2,
    4,
    8,
    1024,
  ]);
  assert.equal(retryDelaySeconds(2, settings({ base: 1.5 })), 2.25);
  assert.equal(retryDelaySeconds(3, settings({ base: 3 })), 27);
  assert.equal(retryDelaySeconds(5, settings({ base: 1 })), 1);
});

Deno.test("retryDelaySeconds() is capped by maxSeconds, even when the power overflows", () => {
  assert.equal(retryDelaySeconds(12, settings()), 3600);
  assert.equal(retryDelaySeconds(11, settings()), 2048);
  assert.equal(retryDelaySeconds(5000, settings()), 3600, "2^5000 is Infinity");
  assert.equal(retryDelaySeconds(3, settings({ maxSeconds: 0 })), 0);
  assert.equal(retryDelaySeconds(3, settings({ maxSeconds: 5 })), 5);
});

Deno.test("retryDelaySeconds() jitter shortens by at most the jitter fraction", () => {
  const s = settings({ jitter: 0.25 });
  assert.equal(retryDelaySeconds(3, s, 0), 8, "random 0: the full delay");
  assert.equal(retryDelaySeconds(3, s, 1), 6, "random 1: shortened by 25%");
  assert.equal(retryDelaySeconds(3, s, 0.5), 7);
  assert.equal(retryDelaySeconds(3, s), 8, "no random number: no jitter");
  assert.equal(retryDelaySeconds(20, s, 1), 2700, "jitter applies after the cap");
  assert.equal(retryDelaySeconds(3, settings({ jitter: 1 }), 1), 0);
  for (let i = 0; i <= 10; i++) {
    const d = retryDelaySeconds(4, s, i / 10);
    assert.ok(d >= 12 && d <= 16, `delay ${d} within [12, 16]`);
  }
});

Deno.test("nextRunAt() adds the delay to now, in milliseconds", () => {
  const now = new Date("2030-01-01T00:00:00.000Z");
  assert.equal(nextRunAt(now, 3, settings()).toISOString(), "2030-01-01T00:00:08.000Z");
  assert.equal(
    nextRunAt(now, 2, settings({ base: 1.5 })).toISOString(),
    "2030-01-01T00:00:02.250Z",
  );
  assert.equal(
    nextRunAt(now, 3, settings({ jitter: 0.5 }), 1).toISOString(),
    "2030-01-01T00:00:04.000Z",
  );
  assert.equal(nextRunAt(now, 99, settings()).toISOString(), "2030-01-01T01:00:00.000Z");
});
