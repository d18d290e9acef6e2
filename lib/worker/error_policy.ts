/**
 * What a lane does after a store error: retry after a pause that grows with the errors in
 * a row (across the worker's lanes), or give up (the worker stops by force).
 * @module
 */

/** Store errors in a row after which a worker stops (its running jobs are put back). */
export const MAX_ERRORS_IN_A_ROW = 6;

/** What to do after the `inARow`-th store error in a row. */
export type ErrorVerdict =
  | { kind: "retry"; pauseMs: number }
  | { kind: "give_up" };

/** The verdict after the `inARow`-th error in a row (pure). */
export function errorVerdict(inARow: number): ErrorVerdict {
  if (inARow >= MAX_ERRORS_IN_A_ROW) return { kind: "give_up" };
  return { kind: "retry", pauseMs: Math.min(100 * 2 ** inARow, 5000) };
}
