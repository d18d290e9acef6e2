/**
 * Configuration keys, their defaults and validation (pure: no store access).
 * @module
 */
import { UsageError } from "./errors.ts";
import { formatDurationValue, formatSize, parseDuration, parseSize } from "./duration.ts";
import type { BackoffSettings } from "./backoff.ts";

/** Every setting, with its value type. */
export interface Config {
  "max-retries": number;
  "backoff-base": number;
  "max-backoff": number;
  "backoff-jitter": number;
  "lease-seconds": number;
  "job-timeout": number;
  "max-log-bytes": number;
  "max-lost": number;
  "keep-completed": number;
  "store-log-bytes": number;
}

/** A config key. */
export type ConfigKey = keyof Config;

interface KeySpec {
  default: number;
  description: string;
  /** Returns an error text when the value is out of range, else null. */
  check: (value: number) => string | null;
  integer: boolean;
  /** What the number measures: written as a duration (`7d`) or a size (`20MiB`). */
  unit?: "seconds" | "bytes";
}

const atLeast = (min: number) => (v: number) => v >= min ? null : `must be at least ${min}`;
const between = (min: number, max: number) => (v: number) =>
  v >= min && v <= max ? null : `must be between ${min} and ${max}`;

/**
 * The longest timeout a timer can wait for, in whole seconds: JavaScript timers hold a
 * 32-bit count of milliseconds, and a longer delay fires at once.
 */
export const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** The longest retry delay allowed, in seconds (a year). */
export const MAX_BACKOFF_SECONDS = 365 * 24 * 3600;
/** The longest lease allowed, in seconds (a day). */
export const MAX_LEASE_SECONDS = 24 * 3600;
/** The largest log cap, in bytes (1 TiB). */
export const MAX_LOG_BYTES = 2 ** 40;
/** The most output of one attempt kept in a KV Connect store, in bytes (64 MiB). */
export const MAX_STORE_LOG_BYTES = 64 * 1024 * 1024;
/** The most retries a job may be given. */
export const MAX_RETRIES = 1_000_000_000;

const SPECS: Record<ConfigKey, KeySpec> = {
  "max-retries": {
    default: 3,
    integer: true,
    check: between(0, MAX_RETRIES),
    description: "retries after the first run (a job runs at most max-retries + 1 times)",
  },
  "backoff-base": {
    default: 2,
    integer: false,
    check: atLeast(1),
    description: "retry delay is backoff-base ^ attempts seconds",
  },
  "max-backoff": {
    unit: "seconds",
    default: 3600,
    integer: false,
    check: between(0, MAX_BACKOFF_SECONDS),
    description: "upper bound of one retry delay (a duration: 3600, 1h)",
  },
  "backoff-jitter": {
    default: 0,
    integer: false,
    check: (v) => v >= 0 && v <= 1 ? null : "must be between 0 and 1",
    description: "0-1: each retry delay is shortened by up to this fraction at random",
  },
  "lease-seconds": {
    unit: "seconds",
    default: 30,
    integer: true,
    check: between(1, MAX_LEASE_SECONDS),
    description: "a claimed job returns to the queue this long after its worker stops renewing",
  },
  "job-timeout": {
    unit: "seconds",
    default: 0,
    integer: true,
    check: between(0, MAX_TIMEOUT_SECONDS),
    description: "how long an attempt may run before it is killed (0: no limit)",
  },
  "max-log-bytes": {
    unit: "bytes",
    default: 10 * 1024 * 1024,
    integer: true,
    check: between(1024, MAX_LOG_BYTES),
    description: "cap of each attempt's log file; the head and the tail are kept",
  },
  "max-lost": {
    default: 3,
    integer: true,
    check: between(1, 1000),
    description: "runs whose worker was lost before a job is quarantined in the DLQ as crashed",
  },
  "keep-completed": {
    unit: "seconds",
    default: 7 * 24 * 3600,
    integer: true,
    check: between(0, 10 * 365 * 24 * 3600),
    description: "how long completed jobs are kept before workers purge them (0: kept for ever)",
  },
  "store-log-bytes": {
    unit: "bytes",
    default: 1024 * 1024,
    integer: true,
    check: between(0, MAX_STORE_LOG_BYTES),
    description:
      "on a KV Connect store, output of each attempt also kept in the store, so that logs show it on any host (0: none)",
  },
};

/** All config keys in display order. */
export const CONFIG_KEYS = Object.keys(SPECS) as ConfigKey[];

/** The defaults of every key. */
export function defaultConfig(): Config {
  return Object.fromEntries(CONFIG_KEYS.map((k) => [k, SPECS[k].default])) as unknown as Config;
}

/** A one-line description of a key, for help and `config list`. */
export function describeKey(key: ConfigKey): string {
  return SPECS[key].description;
}

/** Turns `max_retries`, `MAX-RETRIES` or `max-retries` into a key, or throws a UsageError. */
export function parseConfigKey(raw: string): ConfigKey {
  const key = raw.trim().toLowerCase().replaceAll("_", "-");
  if ((CONFIG_KEYS as string[]).includes(key)) return key as ConfigKey;
  throw new UsageError(`Unknown config key "${raw}": expected one of ${CONFIG_KEYS.join(", ")}`);
}

/** A decimal number as people type it: `5`, `-1`, `1.5`, `.5`, `1e3` (not `0x10`, `Infinity`). */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Validates a value for `key` given as text, returning the number to store. Durations and
 * sizes take the grammar of options (`7d`, `10m`, `20MiB`; a bare number is seconds or bytes).
 */
export function parseConfigValue(key: ConfigKey, raw: string): number {
  const spec = SPECS[key];
  const text = raw.trim();
  const value = spec.unit === "seconds" && !DECIMAL.test(text)
    ? parseDuration(text, `value for ${key}`)
    : spec.unit === "bytes" && !DECIMAL.test(text)
    ? parseSize(text, `value for ${key}`)
    : DECIMAL.test(text)
    ? Number(text)
    : NaN;
  if (!isKind(key, value)) {
    const expected = spec.unit === "seconds"
      ? `${spec.integer ? "whole " : ""}seconds or a duration such as 90, 30s, 10m, 2h or 7d`
      : spec.unit === "bytes"
      ? "a size such as 1048576, 512KiB or 20MiB"
      : spec.integer
      ? "an integer"
      : "a number";
    throw new UsageError(`Invalid value "${raw}" for ${key}: expected ${expected}`);
  }
  const problem = spec.check(value);
  if (problem) {
    throw new UsageError(`Invalid value "${raw}" for ${key}: ${problem}`);
  }
  return value;
}

/** A value of `key` as `config get` prints it and `config set` reads it back. */
export function formatConfigValue(key: ConfigKey, value: number): string {
  const unit = SPECS[key].unit;
  return unit === "seconds"
    ? formatDurationValue(value)
    : unit === "bytes"
    ? formatSize(value)
    : String(value);
}

/** Merges stored values over the defaults, ignoring anything that no longer validates. */
export function resolveConfig(stored: Partial<Record<string, unknown>>): Config {
  const config = defaultConfig();
  for (const key of CONFIG_KEYS) {
    const value = stored[key];
    if (isKind(key, value) && SPECS[key].check(value) === null) config[key] = value;
  }
  return config;
}

function isKind(key: ConfigKey, value: unknown): value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  return !SPECS[key].integer || Number.isInteger(value);
}

/** The retry-delay settings a config gives. */
export function backoffSettings(config: Config): BackoffSettings {
  return {
    base: config["backoff-base"],
    maxSeconds: config["max-backoff"],
    jitter: config["backoff-jitter"],
  };
}
