/**
 * Retry timing: a pure function of the attempt count, the settings and a random number.
 * @module
 */

/** Settings that shape the retry delay. */
export interface BackoffSettings {
  /** `delay = base ^ attempts` seconds. */
  base: number;
  /** Upper bound for one delay, in seconds. */
  maxSeconds: number;
  /** 0–1: the delay is reduced by up to this fraction at random. */
  jitter: number;
}

/**
 * Seconds to wait before the next run after `attempts` runs have failed.
 *
 * @example
 * ```ts
 * retryDelaySeconds(3, { base: 2, maxSeconds: 3600, jitter: 0 }); // 8
 * ```
 */
export function retryDelaySeconds(
  attempts: number,
  settings: BackoffSettings,
  random = 0,
): number {
  const raw = Math.pow(settings.base, attempts);
  const capped = Math.min(Number.isFinite(raw) ? raw : settings.maxSeconds, settings.maxSeconds);
  return capped * (1 - settings.jitter * random);
}

/** The time of the next run after `attempts` failed runs, counted from `now`. */
export function nextRunAt(
  now: Date,
  attempts: number,
  settings: BackoffSettings,
  random = 0,
): Date {
  return new Date(now.getTime() + retryDelaySeconds(attempts, settings, random) * 1000);
}

/** One row of a retry timeline. */
export interface TimelineRow {
  /** 1 for the first retry. */
  retry: number;
  /** Seconds waited before this retry (the longest, when jitter shortens delays). */
  delay: number;
  /** Seconds from the first failure to this retry. */
  cumulative: number;
}

/** The retries a job gets with these settings: when each runs after the first failure. */
export function backoffTimeline(maxRetries: number, settings: BackoffSettings): TimelineRow[] {
  const rows: TimelineRow[] = [];
  let cumulative = 0;
  for (let retry = 1; retry <= Math.min(maxRetries, 1000); retry++) {
    const delay = retryDelaySeconds(retry, settings, 0);
    cumulative += delay;
    rows.push({ retry, delay, cumulative });
  }
  return rows;
}
