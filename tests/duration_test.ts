import assert from "node:assert/strict";
import { formatDurationValue, formatSize, parseDuration, parseSize } from "../lib/duration.ts";
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
  for (const raw of ["", "abc", "-5", "5 minutes", "1y", "5M", "1h30m", "1e3", ".5s"]) {
    assert.throws(
      () => parseDuration(raw, "--delay"),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message ===
          `Invalid --delay "${raw}": expected a duration such as 90, 30s, 5m, 2h, 1d or 1w`,
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

Deno.test("parseSize() reads bytes with binary and decimal units; formatSize() writes them back", () => {
  assert.equal(parseSize("1024", "x"), 1024);
  assert.equal(parseSize("512B", "x"), 512);
  assert.equal(parseSize("64K", "x"), 65536);
  assert.equal(parseSize("20MiB", "x"), 20 * 1024 ** 2);
  assert.equal(parseSize("1GB", "x"), 1e9);
  assert.equal(parseSize("1.5KiB", "x"), 1536);
  for (const bad of ["", "-1", "1.5B", "10 parsecs", "1e3"]) {
    assert.throws(() => parseSize(bad, "max-log-bytes"), UsageError, bad);
  }
  assert.equal(formatSize(20 * 1024 ** 2), "20MiB");
  assert.equal(formatSize(1536), "1536B");
  assert.equal(formatDurationValue(604800), "7d");
  assert.equal(formatDurationValue(86400 * 3), "3d");
  assert.equal(formatDurationValue(0.25), "250ms");
  assert.equal(parseDuration(formatDurationValue(5400), "x"), 5400);
});
