/**
 * Assertions shared by the unit tests.
 * @module
 */
import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";

/** Asserts that `fn` throws a UsageError whose message equals or matches `message`. */
export function assertUsage(fn: () => unknown, message: RegExp | string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}
