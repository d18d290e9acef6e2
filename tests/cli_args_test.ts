import assert from "node:assert/strict";
import {
  parseIntOption,
  parseNumberOption,
  parseQueuesOption,
  parseStateOption,
} from "../lib/cli/args.ts";
import { assertUsage } from "./_helpers/assert.ts";

const usage = assertUsage;

Deno.test("parseIntOption() reads integers within bounds", () => {
  assert.equal(parseIntOption("5", "--count"), 5);
  assert.equal(parseIntOption(" 7 ", "--count"), 7);
  assert.equal(parseIntOption("-3", "--priority", { min: -10, max: 10 }), -3);
  assert.equal(parseIntOption("1", "--count", { min: 1, max: 64 }), 1);
  assert.equal(parseIntOption("64", "--count", { min: 1, max: 64 }), 64);
});

Deno.test("parseIntOption() names the option and the range it expected", () => {
  usage(
    () => parseIntOption("0", "--count", { min: 1, max: 64 }),
    'Invalid --count "0": expected an integer from 1 to 64',
  );
  usage(
    () => parseIntOption("65", "--count", { min: 1, max: 64 }),
    'Invalid --count "65": expected an integer from 1 to 64',
  );
  usage(
    () => parseIntOption("-1", "--timeout", { min: 0 }),
    'Invalid --timeout "-1": expected an integer >= 0',
  );
  for (const raw of ["1.5", "abc", "", "1e3", "0x10", "+5", "99999999999999999999"]) {
    usage(() => parseIntOption(raw, "--limit"), `Invalid --limit "${raw}": expected an integer`);
  }
});

Deno.test("parseNumberOption() reads decimal numbers >= min", () => {
  assert.equal(parseNumberOption("1.5", "--timeout"), 1.5);
  assert.equal(parseNumberOption("0", "--timeout"), 0);
  assert.equal(parseNumberOption("1e2", "--timeout"), 100);
  assert.equal(parseNumberOption(" .5 ", "--timeout"), 0.5);
  for (const raw of ["", "abc", "Infinity", "0x10", "-1", "5s", "NaN"]) {
    usage(
      () => parseNumberOption(raw, "--timeout"),
      `Invalid --timeout "${raw}": expected a number >= 0`,
    );
  }
  usage(
    () => parseNumberOption("0", "--timeout", 0.001),
    'Invalid --timeout "0": expected a number >= 0.001',
  );
});

Deno.test("parseStateOption() accepts the job states in any case", () => {
  assert.equal(parseStateOption("pending"), "pending");
  assert.equal(parseStateOption("DEAD"), "dead");
  assert.equal(parseStateOption(" Failed "), "failed");
  usage(
    () => parseStateOption("bogus"),
    'Unknown state "bogus": expected one of pending, processing, completed, failed, dead, cancelled',
  );
  // "scheduled" is a count shown by status, not a state a job can be listed by.
  usage(
    () => parseStateOption("scheduled"),
    'Unknown state "scheduled": expected one of pending, processing, completed, failed, dead, cancelled',
  );
});

Deno.test("parseQueuesOption() splits a comma-separated list of valid names", () => {
  assert.deepEqual(parseQueuesOption("a"), ["a"]);
  assert.deepEqual(parseQueuesOption("a, b.c ,d_e,"), ["a", "b.c", "d_e"]);
  usage(
    () => parseQueuesOption("a,b c"),
    'Invalid queue name "b c": expected letters, digits, ".", "_" or "-"',
  );
  usage(
    () => parseQueuesOption("-a"),
    'Invalid queue name "-a": expected letters, digits, ".", "_" or "-"',
  );
  usage(() => parseQueuesOption(" , "), 'Invalid --queue " , ": expected queue names');
});
