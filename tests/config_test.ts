import assert from "node:assert/strict";
import {
  CONFIG_KEYS,
  defaultConfig,
  describeKey,
  formatConfigValue,
  MAX_TIMEOUT_SECONDS,
  parseConfigKey,
  parseConfigValue,
  resolveConfig,
} from "../lib/config.ts";
import { assertUsage } from "./_helpers/assert.ts";

const usage = assertUsage;

Deno.test("CONFIG_KEYS lists every key with a default and a description", () => {
  assert.deepEqual(CONFIG_KEYS, [
    "max-retries",
    "backoff-base",
    "max-backoff",
    "backoff-jitter",
    "lease-seconds",
    "job-timeout",
    "max-log-bytes",
    "max-lost",
    "keep-completed",
    "store-log-bytes",
  ]);
  assert.deepEqual(defaultConfig(), {
    "max-retries": 3,
    "backoff-base": 2,
    "max-backoff": 3600,
    "backoff-jitter": 0,
    "lease-seconds": 30,
    "job-timeout": 0,
    "max-log-bytes": 10 * 1024 * 1024,
    "max-lost": 3,
    "keep-completed": 604800,
    "store-log-bytes": 1024 * 1024,
  });
  for (const key of CONFIG_KEYS) assert.ok(describeKey(key).length > 10, key);
  assert.match(describeKey("max-retries"), /at most max-retries \+ 1 times/);
});

Deno.test("parseConfigKey() accepts dashes, underscores, any case and spaces around", () => {
  for (const raw of ["max-retries", "max_retries", "MAX_RETRIES", "Max-Retries", " max_retries "]) {
    assert.equal(parseConfigKey(raw), "max-retries", raw);
  }
  assert.equal(parseConfigKey("backoff_base"), "backoff-base");
  assert.equal(parseConfigKey("LEASE_SECONDS"), "lease-seconds");
});

Deno.test("parseConfigKey() rejects an unknown key, listing the valid keys", () => {
  usage(
    () => parseConfigKey("retries"),
    'Unknown config key "retries": expected one of max-retries, backoff-base, max-backoff, ' +
      "backoff-jitter, lease-seconds, job-timeout, max-log-bytes, max-lost, keep-completed, store-log-bytes",
  );
  usage(() => parseConfigKey(""), /^Unknown config key "": expected one of max-retries/);
  usage(() => parseConfigKey("max retries"), /^Unknown config key "max retries"/);
});

Deno.test("parseConfigValue() accepts decimal values of the right kind", () => {
  assert.equal(parseConfigValue("max-retries", "5"), 5);
  assert.equal(parseConfigValue("max-retries", " 0 "), 0);
  assert.equal(parseConfigValue("max-retries", "1e3"), 1000);
  assert.equal(parseConfigValue("backoff-base", "1.5"), 1.5);
  assert.equal(parseConfigValue("backoff-base", "+3"), 3);
  assert.equal(parseConfigValue("backoff-jitter", ".25"), 0.25);
  assert.equal(parseConfigValue("max-backoff", "0"), 0);
  assert.equal(parseConfigValue("job-timeout", String(MAX_TIMEOUT_SECONDS)), MAX_TIMEOUT_SECONDS);
  assert.equal(parseConfigValue("max-log-bytes", "1024"), 1024);
});

Deno.test("parseConfigValue() rejects what is not a number of the right kind", () => {
  usage(
    () => parseConfigValue("max-retries", "2.5"),
    'Invalid value "2.5" for max-retries: expected an integer',
  );
  usage(() => parseConfigValue("max-retries", "three"), /expected an integer$/);
  usage(
    () => parseConfigValue("max-retries", ""),
    'Invalid value "" for max-retries: expected an integer',
  );
  usage(() => parseConfigValue("max-retries", "0x10"), /expected an integer$/);
  usage(
    () => parseConfigValue("backoff-base", "Infinity"),
    'Invalid value "Infinity" for backoff-base: expected a number',
  );
  usage(() => parseConfigValue("backoff-base", "NaN"), /expected a number$/);
  usage(() => parseConfigValue("backoff-base", "2s"), /expected a number$/);
  usage(
    () => parseConfigValue("max-log-bytes", "1024.5"),
    /expected a size such as 1048576, 512KiB or 20MiB$/,
  );
  usage(() => parseConfigValue("keep-completed", "1.5s"), /expected whole seconds or a duration/);
  usage(() => parseConfigValue("job-timeout", "soon"), /^Invalid value for job-timeout "soon"/);
  usage(
    () => parseConfigValue("max-log-bytes", "1e300"),
    /must be between 1024 and 1099511627776$/,
  );
});

Deno.test("parseConfigValue() rejects values out of range, saying the range", () => {
  usage(
    () => parseConfigValue("max-retries", "-1"),
    'Invalid value "-1" for max-retries: must be between 0 and 1000000000',
  );
  usage(
    () => parseConfigValue("backoff-base", "0.5"),
    'Invalid value "0.5" for backoff-base: must be at least 1',
  );
  usage(
    () => parseConfigValue("max-backoff", "-1"),
    /for max-backoff: must be between 0 and 31536000$/,
  );
  usage(
    () => parseConfigValue("backoff-jitter", "1.01"),
    'Invalid value "1.01" for backoff-jitter: must be between 0 and 1',
  );
  usage(() => parseConfigValue("backoff-jitter", "-0.1"), /must be between 0 and 1$/);
  usage(
    () => parseConfigValue("lease-seconds", "0"),
    /for lease-seconds: must be between 1 and 86400$/,
  );
  usage(
    () => parseConfigValue("lease-seconds", "1e20"),
    /for lease-seconds: must be between 1 and 86400$/,
  );
  usage(
    () => parseConfigValue("job-timeout", String(MAX_TIMEOUT_SECONDS + 1)),
    `Invalid value "${
      MAX_TIMEOUT_SECONDS + 1
    }" for job-timeout: must be between 0 and ${MAX_TIMEOUT_SECONDS}`,
  );
  usage(
    () => parseConfigValue("max-log-bytes", "1023"),
    /for max-log-bytes: must be between 1024 and 1099511627776$/,
  );
});

Deno.test("MAX_TIMEOUT_SECONDS fits a JavaScript timer (a 32-bit count of milliseconds)", () => {
  assert.ok(MAX_TIMEOUT_SECONDS * 1000 <= 2 ** 31 - 1);
  assert.ok((MAX_TIMEOUT_SECONDS + 1) * 1000 > 2 ** 31 - 1);
});

Deno.test("resolveConfig() merges valid stored values over the defaults", () => {
  assert.deepEqual(resolveConfig({}), defaultConfig());
  const config = resolveConfig({ "max-retries": 5, "backoff-base": 1.5, "other-key": 9 });
  assert.equal(config["max-retries"], 5);
  assert.equal(config["backoff-base"], 1.5);
  assert.equal(config["lease-seconds"], 30);
  assert.equal("other-key" in config, false);
});

Deno.test("resolveConfig() ignores stored values that no longer validate", () => {
  const config = resolveConfig({
    "max-retries": 2.5,
    "backoff-base": "3",
    "max-backoff": Infinity,
    "backoff-jitter": NaN,
    "lease-seconds": -5,
    "job-timeout": 1e12,
    "max-log-bytes": null,
  });
  assert.deepEqual(config, defaultConfig());
});

Deno.test("parseConfigValue() reads durations and sizes as options do; formatConfigValue() writes them back", () => {
  assert.equal(parseConfigValue("keep-completed", "7d"), 7 * 86400);
  assert.equal(parseConfigValue("job-timeout", "10m"), 600);
  assert.equal(parseConfigValue("max-backoff", "1.5s"), 1.5);
  assert.equal(parseConfigValue("max-log-bytes", "20MiB"), 20 * 1024 * 1024);
  assert.equal(parseConfigValue("max-log-bytes", "2MB"), 2_000_000);
  assert.equal(parseConfigValue("lease-seconds", "30"), 30, "a bare number is seconds");
  for (
    const [key, text] of [
      ["keep-completed", "7d"],
      ["job-timeout", "10m"],
      ["max-log-bytes", "20MiB"],
      ["max-backoff", "1.5s"],
      ["lease-seconds", "90s"],
      ["job-timeout", "0"],
      ["max-retries", "3"],
    ] as const
  ) {
    assert.equal(formatConfigValue(key, parseConfigValue(key, text)), text, `${key} ${text}`);
  }
  assert.equal(formatConfigValue("max-log-bytes", 1500), "1500B");
});
