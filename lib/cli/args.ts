/**
 * Parsing option values typed on the command line into checked values (pure).
 * @module
 */
import { UsageError } from "../errors.ts";
import { isJobState, JOB_STATES, type JobState } from "../job.ts";
import { parseEnv } from "../job_spec.ts";
import { MAX_TIMEOUT_SECONDS } from "../config.ts";
import { parseDuration } from "../duration.ts";

/** An integer option within bounds, or a UsageError naming the option. */
export function parseIntOption(
  raw: string,
  option: string,
  bounds: { min?: number; max?: number } = {},
): number {
  const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  const min = bounds.min ?? -Infinity, max = bounds.max ?? Infinity;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = bounds.max !== undefined
      ? `an integer from ${min} to ${max}`
      : bounds.min !== undefined
      ? `an integer >= ${min}`
      : "an integer";
    throw new UsageError(`Invalid ${option} "${raw}": expected ${range}`);
  }
  return value;
}

/** A number option >= min, written in decimal (`5`, `1.5`, `1e3`; not `0x10` or `Infinity`). */
export function parseNumberOption(raw: string, option: string, min = 0): number {
  const value = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value < min) {
    throw new UsageError(`Invalid ${option} "${raw}": expected a number >= ${min}`);
  }
  return value;
}

/** A job state name. */
export function parseStateOption(raw: string): JobState {
  const value = raw.trim().toLowerCase();
  if (!isJobState(value)) {
    throw new UsageError(`Unknown state "${raw}": expected one of ${JOB_STATES.join(", ")}`);
  }
  return value;
}

/** A comma-separated list of queue names. */
export function parseQueuesOption(raw: string): string[] {
  const names = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of names) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw new UsageError(
        `Invalid queue name "${name}": expected letters, digits, ".", "_" or "-"`,
      );
    }
  }
  if (names.length === 0) throw new UsageError(`Invalid --queue "${raw}": expected queue names`);
  return names;
}

/** Repeated `--env NAME=value` options as one set of variables (checked like a spec's `env`). */
export function parseEnvOption(pairs: string[]): Record<string, string> {
  const entries = pairs.map((pair) => {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`Invalid --env "${pair}": expected NAME=value`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  return parseEnv(
    Object.fromEntries(entries),
    () => new UsageError(`Invalid --env: expected NAME=value with a name of letters, digits or _`),
  );
}

/** A `--timeout` duration (`600`, `10m`) in seconds, more than 0 and at most the limit. */
export function parseTimeoutOption(raw: string): number {
  const seconds = parseDuration(raw, "--timeout");
  if (seconds <= 0) {
    throw new UsageError(`Invalid --timeout "${raw}": expected more than 0 seconds`);
  }
  if (seconds > MAX_TIMEOUT_SECONDS) {
    throw new UsageError(
      `Invalid --timeout "${raw}": expected at most ${MAX_TIMEOUT_SECONDS} seconds`,
    );
  }
  return seconds;
}
