/**
 * Which store errors are a fault of the store's medium (unwritable, full, unreachable) that
 * passes, as opposed to a mistake or a broken store (pure). Workers wait out the first kind.
 * @module
 */

/** A store error seen by a worker: the store is unavailable for now, or something else. */
export type StoreFault =
  | { kind: "unavailable"; reason: string }
  | { kind: "other" };

/** Local file faults: read-only file or dir, full disk, I/O errors, a lock held too long. */
const LOCAL_UNAVAILABLE =
  /read-?only|disk is full|no space left|SQLITE_FULL|disk I\/O error|unable to open database|locked by another process|database is locked|SQLITE_BUSY|SQLITE_IOERR|SQLITE_CANTOPEN/i;

/** KV Connect faults: the server is down, restarting, unreachable or overloaded. */
const REMOTE_UNAVAILABLE =
  /error sending request|connection (?:refused|reset|closed|aborted)|tcp connect|dns error|failed to connect|broken pipe|timed out|did not answer|cannot reach|os error (?:104|110|111|113)|ECONNREFUSED|ECONNRESET|status (?:429|5\d\d)|unexpected end of file|http2 error|hyper|Remote KV|network/i;

/**
 * Classifies an error from a store call. An unavailable store (read-only, full, unreachable
 * over the network) is ridden out; anything else (a corrupt file, a bug) counts against the
 * worker's error budget.
 *
 * @example
 * ```ts
 * storeFaultOf(new Error("database or disk is full")); // { kind: "unavailable", reason: "database or disk is full" }
 * ```
 */
export function storeFaultOf(error: unknown): StoreFault {
  const message = error instanceof Error ? error.message : String(error);
  if (/malformed|not a database|file is encrypted|corrupt/i.test(message)) return { kind: "other" };
  if (LOCAL_UNAVAILABLE.test(message) || REMOTE_UNAVAILABLE.test(message)) {
    return { kind: "unavailable", reason: message.split("\n")[0].trim() };
  }
  if (error instanceof TypeError && /fetch|request|connect/i.test(message)) {
    return { kind: "unavailable", reason: message.split("\n")[0].trim() };
  }
  return { kind: "other" };
}
