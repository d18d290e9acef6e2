import assert from "node:assert/strict";
import { daysInMonth, parseIsoTime } from "../lib/iso_time.ts";

Deno.test("parseIsoTime() refuses a day past the end of its month instead of rolling over", () => {
  assert.deepEqual(parseIsoTime("2027-02-30T00:00:00Z"), {
    kind: "impossible",
    why: "February 2027 has 28 days",
  });
  assert.deepEqual(parseIsoTime("2027-04-31", { dateOnly: true }), {
    kind: "impossible",
    why: "April 2027 has 30 days",
  });
  assert.equal(parseIsoTime("2027-02-29T12:00:00+01:00").kind, "impossible");
});

Deno.test("parseIsoTime() reads real days, offsets and fractions as the same instant Date does", () => {
  for (const text of ["2028-02-29T00:00:00Z", "2027-04-30T10:00+02:00", "2027-12-31T23:59:59.5Z"]) {
    const parsed = parseIsoTime(text);
    assert.deepEqual(parsed, { kind: "time", date: new Date(text) }, text);
  }
  assert.deepEqual(parseIsoTime("2027-04-30", { dateOnly: true }), {
    kind: "time",
    date: new Date("2027-04-30T00:00:00Z"),
  });
});

Deno.test("parseIsoTime() calls text that is not an ISO-8601 time malformed", () => {
  for (
    const text of [
      "tomorrow",
      "2027-13-01T00:00:00Z",
      "2027-04-30T25:00:00Z",
      "04/30/2027",
      "2027-06-00T00:00:00Z",
    ]
  ) {
    assert.deepEqual(parseIsoTime(text), { kind: "malformed" }, text);
  }
  assert.deepEqual(parseIsoTime("2027-04-30"), { kind: "malformed" }, "a time is required");
});

Deno.test("daysInMonth() follows the Gregorian leap-year rule", () => {
  assert.deepEqual([2024, 2027, 1900, 2000, 0].map((y) => daysInMonth(y, 2)), [29, 28, 28, 29, 29]);
  assert.deepEqual([1, 4, 6, 9, 11, 12].map((m) => daysInMonth(2027, m)), [31, 30, 30, 30, 30, 31]);
});
