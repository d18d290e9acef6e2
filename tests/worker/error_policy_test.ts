import assert from "node:assert/strict";
import {
  errorVerdict,
  MAX_ERRORS_IN_A_ROW,
  MAX_OUTAGE_PAUSE_MS,
} from "../../lib/worker/error_policy.ts";
import { storeFaultOf } from "../../lib/store/fault.ts";

const OTHER = { kind: "other" } as const;
const UNAVAILABLE = { kind: "unavailable", reason: "read-only" } as const;

Deno.test("errorVerdict() pauses longer after each error in a row, then gives up", () => {
  assert.deepEqual(errorVerdict(1, OTHER), { kind: "retry", pauseMs: 200 });
  assert.deepEqual(errorVerdict(5, OTHER), { kind: "retry", pauseMs: 3200 });
  assert.deepEqual(errorVerdict(MAX_ERRORS_IN_A_ROW, OTHER), { kind: "give_up" });
});

Deno.test("errorVerdict() never gives up on an unavailable store, pausing at most 30 s", () => {
  assert.deepEqual(errorVerdict(1, UNAVAILABLE), { kind: "retry", pauseMs: 200 });
  assert.deepEqual(errorVerdict(MAX_ERRORS_IN_A_ROW, UNAVAILABLE), {
    kind: "retry",
    pauseMs: 6400,
  });
  for (const n of [9, 50, 10_000]) {
    assert.deepEqual(errorVerdict(n, UNAVAILABLE), {
      kind: "retry",
      pauseMs: MAX_OUTAGE_PAUSE_MS,
    });
  }
  assert.equal(MAX_OUTAGE_PAUSE_MS, 30_000);
});

Deno.test("storeFaultOf() calls read-only, full, I/O and network errors unavailable, corruption not", () => {
  const unavailable = [
    'Cannot write to store "/q/queue.db": it is read-only (Can not write to a read-only database.)',
    "database or disk is full",
    'Cannot write to store "/q/queue.db": the disk is full',
    "disk I/O error",
    'Store "/q/queue.db" is locked by another process: gave up after 30s',
    "error sending request for url (http://127.0.0.1:4512/v2/atomic_write): client error (Connect): tcp connect error: Connection refused (os error 111)",
    'Store "http://127.0.0.1:4512" did not answer: gave up after 10s',
    "Remote KV server returned status 503",
  ];
  for (const message of unavailable) {
    assert.equal(storeFaultOf(new Error(message)).kind, "unavailable", message);
  }
  for (
    const message of [
      "database disk image is malformed",
      "file is not a database",
      "x is not a function",
    ]
  ) {
    assert.deepEqual(storeFaultOf(new Error(message)), { kind: "other" }, message);
  }
});
