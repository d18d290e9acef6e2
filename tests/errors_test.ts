import assert from "node:assert/strict";
import { describeError, OperationError, UsageError } from "../lib/errors.ts";

Deno.test("describeError() gives a usage mistake exit code 2 and its message, a failed operation or any other error exit code 1 and one line", () => {
  assert.deepEqual(describeError(new UsageError('Unknown state "x": expected pending, …')), {
    code: 2,
    line: 'Unknown state "x": expected pending, …',
  });
  assert.deepEqual(describeError(new OperationError("Cannot open store /x/queue.db")), {
    code: 1,
    line: "Cannot open store /x/queue.db",
  });
  assert.deepEqual(describeError(new Error("\n  database is locked\n    at step (kv.ts:1)")), {
    code: 1,
    line: "database is locked",
  });
  assert.deepEqual(describeError("a thrown string"), { code: 1, line: "a thrown string" });
});
