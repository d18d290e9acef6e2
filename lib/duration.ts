/**
 * Durations typed by people: `90`, `30s`, `5m`, `2h`, `1d` (pure).
 * @module
 */
import { UsageError } from "./errors.ts";

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

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
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
  if (!match) {
    throw new UsageError(
      `Invalid ${what} "${raw}": expected a duration such as 90, 30s, 5m, 2h or 1d`,
    );
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] ?? "s"];
  if (!Number.isFinite(seconds)) {
    throw new UsageError(`Invalid ${what} "${raw}": the number is too large`);
  }
  return seconds;
}
