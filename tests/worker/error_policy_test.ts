import assert from "node:assert/strict";
import { errorVerdict, MAX_ERRORS_IN_A_ROW } from "../../lib/worker/error_policy.ts";

Deno.test("errorVerdict() pauses longer after each error in a row, then gives up", () => {
  assert.deepEqual(errorVerdict(1), { kind: "retry", pauseMs: 200 });
  assert.deepEqual(errorVerdict(5), { kind: "retry", pauseMs: 3200 });
  assert.deepEqual(errorVerdict(MAX_ERRORS_IN_A_ROW), { kind: "give_up" });
});
