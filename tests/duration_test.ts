import assert from "node:assert/strict";
import { parseDuration } from "../lib/duration.ts";
import { UsageError } from "../lib/errors.ts";

Deno.test("parseDuration() reads a bare number as seconds and knows ms, s, m, h, d", () => {
  const cases: [string | number, number][] = [
    ["90", 90],
    ["0", 0],
    ["1.5", 1.5],
    ["250ms", 0.25],
    ["30s", 30],
    ["5m", 300],
    ["2h", 7200],
    ["1d", 86400],
    ["1.5h", 5400],
    [" 10 s ", 10],
    [0, 0],
    [12.5, 12.5],
  ];
  for (const [raw, seconds] of cases) {
    assert.equal(parseDuration(raw, "--delay"), seconds, `${raw}`);
  }
});

Deno.test("parseDuration() rejects other text, naming the option and the forms it knows", () => {
  for (const raw of ["", "abc", "-5", "5 minutes", "1w", "5M", "1h30m", "1e3", ".5s"]) {
    assert.throws(
      () => parseDuration(raw, "--delay"),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message ===
          `Invalid --delay "${raw}": expected a duration such as 90, 30s, 5m, 2h or 1d`,
      raw,
    );
  }
});

Deno.test("parseDuration() rejects negative, infinite and too large numbers", () => {
  for (const raw of [-1, NaN, Infinity]) {
    assert.throws(
      () => parseDuration(raw, "--delay"),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message === `Invalid --delay ${raw}: expected a number of seconds >= 0`,
    );
  }
  const huge = "9".repeat(400);
  assert.throws(
    () => parseDuration(huge, "--delay"),
    (error: unknown) =>
      error instanceof UsageError &&
      error.message === `Invalid --delay "${huge}": the number is too large`,
  );
});
