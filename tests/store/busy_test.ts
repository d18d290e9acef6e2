import assert from "node:assert/strict";
import {
  BUSY_TIMEOUT_ENV,
  busyTimeoutFrom,
  busyTimeoutMs,
  busyTolerant,
} from "../../lib/store/busy.ts";
import { OperationError } from "../../lib/errors.ts";

Deno.test("busyTolerant() gives up on a call that hangs with one line naming the store, call after call", async () => {
  // A store whose reads never answer, like one held by another process's exclusive lock.
  const hanging = { get: () => new Promise(() => {}), close: () => {} } as unknown as Deno.Kv;
  const kv = busyTolerant(hanging, { path: "/data/queue.db", timeoutMs: 100 });
  // More calls than get a signal's deadline, so that both kinds of deadline are exercised.
  const results = await Promise.allSettled(Array.from({ length: 80 }, () => kv.get(["x"])));
  for (const r of results) {
    assert.equal(r.status, "rejected");
    const error = (r as PromiseRejectedResult).reason;
    assert.ok(error instanceof OperationError, String(error));
    assert.equal(
      error.message,
      'Store "/data/queue.db" is locked by another process: gave up after 0.1s',
    );
  }
});

Deno.test("busyTimeoutMs() reads QUEUECTL_BUSY_TIMEOUT_MS; beyond what a timer holds it waits for ever", () => {
  const cases: [string | undefined, number][] = [
    [undefined, 30_000],
    ["", 30_000],
    ["abc", 30_000],
    ["-5", 30_000],
    ["1500", 1500],
    [String(2 ** 31 - 1), 2 ** 31 - 1],
    [String(2 ** 31), Infinity],
    ["1e300", Infinity],
  ];
  // The raw value is passed in: this process's environment is shared with the test files
  // running beside this one, so setting QUEUECTL_BUSY_TIMEOUT_MS here would reach them.
  for (const [raw, expected] of cases) assert.equal(busyTimeoutFrom(raw), expected, String(raw));
  assert.equal(busyTimeoutMs(), busyTimeoutFrom(Deno.env.get(BUSY_TIMEOUT_ENV)));
});
