/**
 * The progress line of `worker run --drain` on a terminal: done/total, rate, ETA (pure).
 * @module
 */
import { formatDuration } from "./text.ts";

/** What the progress line shows. */
export interface Progress {
  done: number;
  total: number;
  elapsedMs: number;
  dead: number;
}

/**
 * One line (no newline) with a bar, `done/total`, jobs per second and the time left.
 *
 * @example
 * ```ts
 * renderProgress({ done: 50, total: 200, elapsedMs: 5000, dead: 1 }, { width: 20 });
 * // "[#####...............]  50/200 jobs  10.0/s  ETA 15s  1 dead"
 * ```
 */
export function renderProgress(p: Progress, options: { width?: number } = {}): string {
  const width = options.width ?? 30;
  const total = Math.max(p.total, p.done);
  const share = total === 0 ? 1 : p.done / total;
  const filled = Math.round(share * width);
  const rate = p.elapsedMs > 0 ? p.done / (p.elapsedMs / 1000) : 0;
  const left = total - p.done;
  const eta = rate > 0 ? formatDuration((left / rate) * 1000) : "-";
  const digits = String(total).length;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
    `${String(p.done).padStart(digits)}/${total} jobs  ${rate.toFixed(1)}/s  ETA ${eta}` +
    (p.dead > 0 ? `  ${p.dead} dead` : "");
}
