/**
 * Durations and sizes typed by people, one grammar for options and config alike (pure):
 * durations `90` (seconds), `500ms`, `30s`, `5m`, `2h`, `1d`, `1w`; sizes `1024` (bytes),
 * `512B`, `64KiB`/`64K`, `20MiB`/`20M`, `1GiB`/`1G`, and the decimal `kB`, `MB`, `GB`, `TB`.
 * @module
 */
import { UsageError } from "./errors.ts";

const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
};

/**
 * Parses a duration into seconds; a bare number means seconds.
 *
 * @example
 * ```ts
 * parseDuration("2m", "--delay"); // 120
 * ```
 */
export function parseDuration(raw: string | number, what: string): number {
  if (typeof raw === "number") {
    if (Number.isFinite(raw) && raw >= 0) return raw;
    throw new UsageError(`Invalid ${what} ${raw}: expected a number of seconds >= 0`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(raw);
  if (!match) {
    throw new UsageError(
      `Invalid ${what} "${raw}": expected a duration such as 90, 30s, 5m, 2h, 1d or 1w`,
    );
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] ?? "s"];
  if (!Number.isFinite(seconds)) {
    throw new UsageError(`Invalid ${what} "${raw}": the number is too large`);
  }
  return seconds;
}

/**
 * Seconds written as `parseDuration` reads them, in the largest unit that holds them
 * exactly: `7d`, `10m`, `90s`, `1.5s`, `0`.
 *
 * @example
 * ```ts
 * formatDurationValue(604800); // "7d"
 * formatDurationValue(5400); // "90m"
 * ```
 */
export function formatDurationValue(seconds: number): string {
  if (seconds === 0) return "0";
  for (const unit of ["d", "h", "m", "s"]) {
    const n = seconds / UNIT_SECONDS[unit];
    if (Number.isInteger(n)) return `${n}${unit}`;
  }
  const ms = seconds * 1000;
  return seconds < 1 && Number.isInteger(ms) ? `${ms}ms` : `${seconds}s`;
}

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * Parses a size into bytes; a bare number means bytes. `K`, `M`, `G`, `T` and `KiB` …
 * `TiB` are powers of 1024; `kB`, `MB`, `GB`, `TB` powers of 1000. Whole bytes only.
 *
 * @example
 * ```ts
 * parseSize("20MiB", "max-log-bytes"); // 20971520
 * ```
 */
export function parseSize(raw: string | number, what: string): number {
  const match = typeof raw === "number"
    ? [String(raw), String(raw), undefined]
    : /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\s*$/.exec(raw);
  const unit = match?.[2]?.toLowerCase() ?? "b";
  const bytes = match && unit in UNIT_BYTES ? Number(match[1]) * UNIT_BYTES[unit] : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(
      `Invalid ${what} "${raw}": expected a size in whole bytes such as 1048576, 512KiB, 20MiB or 1GB`,
    );
  }
  return bytes;
}

/**
 * Bytes written as `parseSize` reads them, in the largest binary unit that holds them
 * exactly: `20MiB`, `512KiB`, `1500B`.
 */
export function formatSize(bytes: number): string {
  for (const unit of ["TiB", "GiB", "MiB", "KiB"]) {
    const n = bytes / UNIT_BYTES[unit.toLowerCase()];
    if (bytes > 0 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return `${bytes}B`;
}
