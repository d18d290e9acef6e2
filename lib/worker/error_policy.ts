/**
 * What a lane does after a store error: retry after a pause that grows with the errors in
 * a row (across the worker's lanes), or give up (the worker stops by force). A store that
 * is unavailable (read-only, full, unreachable) is waited out for as long as it takes.
 * @module
 */
import type { StoreFault } from "../store/fault.ts";

/** Store errors in a row, other than an unavailable store, after which a worker stops. */
export const MAX_ERRORS_IN_A_ROW = 6;

/** The longest pause between tries while the store is unavailable. */
export const MAX_OUTAGE_PAUSE_MS = 30_000;

/** What to do after the `inARow`-th store error in a row. */
export type ErrorVerdict =
  | { kind: "retry"; pauseMs: number }
  | { kind: "give_up" };

/** The verdict after the `inARow`-th error in a row, of the kind `fault` (pure). */
export function errorVerdict(inARow: number, fault: StoreFault): ErrorVerdict {
  if (fault.kind === "unavailable") {
    return { kind: "retry", pauseMs: outagePauseMs(inARow) };
  }
  if (inARow >= MAX_ERRORS_IN_A_ROW) return { kind: "give_up" };
  return { kind: "retry", pauseMs: Math.min(100 * 2 ** inARow, 5000) };
}

/** The pause before the next try after `tries` failed ones while the store is unavailable. */
export function outagePauseMs(tries: number): number {
  return Math.min(100 * 2 ** Math.min(tries, 20), MAX_OUTAGE_PAUSE_MS);
}
