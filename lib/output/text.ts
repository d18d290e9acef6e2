/**
 * Text helpers for human output: durations, relative times, truncation. Pure.
 * @module
 */

/** `1.2s`, `350ms`, `3m12s`, `2h05m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** `5s ago`, `in 3m02s`, relative to `now`. */
export function formatRelative(iso: string | null, now: Date): string {
  if (!iso) return "-";
  const diff = Date.parse(iso) - now.getTime();
  return diff >= 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
}

/** Cuts a string to `max` characters with an ellipsis, on one line. */
export function truncate(text: string, max: number): string {
  const line = text.replace(/\s*\n\s*/g, " ⏎ ");
  return line.length <= max ? line : line.slice(0, max - 1) + "…";
}

/** One JSON document followed by a newline. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * A count with its noun, singular or plural.
 * @example
 * ```ts
 * plural(1, "failed attempt"); // "1 failed attempt"
 * plural(2, "failed attempt"); // "2 failed attempts"
 * ```
 */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : many}`;
}
