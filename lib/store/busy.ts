/**
 * Guarding every store call: SQLite's "database is locked" is retried, a call that waits
 * on another process's lock longer than a deadline gives up with one clear line, and a
 * corrupt or read-only file becomes an OperationError naming the file.
 * @module
 */
import { OperationError } from "../errors.ts";
import { markKvConnect } from "./limits.ts";

/** The environment variable that sets how long a command waits for a locked store (ms). */
export const BUSY_TIMEOUT_ENV = "QUEUECTL_BUSY_TIMEOUT_MS";

/** How long a command waits for a store locked by another process, by default. */
export const DEFAULT_BUSY_TIMEOUT_MS = 30_000;

/** How long a command waits for a locked store: `$QUEUECTL_BUSY_TIMEOUT_MS`, else 30 s. */
export function busyTimeoutMs(): number {
  return busyTimeoutFrom(busyTimeoutEnv());
}

/** The wait a raw `$QUEUECTL_BUSY_TIMEOUT_MS` asks for: unset, empty or not a positive number is 30 s. */
export function busyTimeoutFrom(raw: string | undefined): number {
  const value = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
  if (!(value > 0)) return DEFAULT_BUSY_TIMEOUT_MS;
  // Beyond what a timer can hold (about 24.8 days) is as good as waiting for ever.
  return value <= MAX_TIMER_MS ? value : Infinity;
}

/** `$QUEUECTL_BUSY_TIMEOUT_MS`, or undefined when unset or not readable (the default applies). */
function busyTimeoutEnv(): string | undefined {
  try {
    return Deno.env.get(BUSY_TIMEOUT_ENV);
  } catch {
    return undefined;
  }
}

/** Reports whether an error is SQLite's busy/locked refusal. */
export function isBusyError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /database is locked|database table is locked|SQLITE_BUSY|DatabaseBusy/i.test(message);
}

/**
 * Busy refusals retried at once before waiting. Another process's commit holds SQLite's
 * write lock for a fraction of a millisecond, so the next try usually gets it; sleeping
 * (a timer is at least a millisecond) at every refusal cost two workers on one store most
 * of their throughput. A lock held longer (a big batch insert) gets growing waits after.
 */
const IMMEDIATE_RETRIES = 16;

/** The longest delay a timer takes (a 32-bit count of milliseconds). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn`, repeating it while the store is busy: at once, then with a growing pause. */
export async function retryBusy<T>(fn: () => Promise<T>, maxWaitMs = 30_000): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  let wait = 1;
  for (let tries = 1;; tries++) {
    try {
      return await fn();
    } catch (error) {
      if (!isBusyError(error) || Date.now() > deadline) throw error;
      if (tries <= IMMEDIATE_RETRIES) continue;
      await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
      wait = Math.min(wait * 2, 50);
    }
  }
}

/** How a guarded store behaves. */
export interface GuardOptions {
  /** The KV file (or the KV Connect URL, without credentials), named in error messages. */
  path?: string;
  /** A KV Connect store: a call that waits too long found the server silent, not a lock. */
  remote?: boolean;
  /**
   * Told when store calls have been waiting for SLOW_CALL_MS (the server is down, the file
   * locked: Deno's KV Connect client retries with a capped backoff by itself), and again
   * when the store answers. Workers write it to their log.
   */
  onWait?: (message: string) => void;
  /**
   * Milliseconds one call may wait (for a lock held by another process) before it fails;
   * Infinity waits as long as it takes (workers). Default: busyTimeoutMs().
   */
  timeoutMs?: number;
}

/** Turns a store error into one clear line naming the file; other errors pass unchanged. */
export function storeError(error: unknown, path: string): unknown {
  if (error instanceof OperationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split("\n")[0].trim();
  if (isBusyError(error)) {
    return new OperationError(`Store "${path}" is locked by another process; try again later`);
  }
  if (/malformed|not a database|file is encrypted/i.test(message)) {
    return new OperationError(`Store "${path}" is corrupt (${first})`);
  }
  if (/read-?only/i.test(message)) {
    return new OperationError(`Cannot write to store "${path}": it is read-only (${first})`);
  }
  if (/disk is full|no space left|SQLITE_FULL/i.test(message)) {
    return new OperationError(`Cannot write to store "${path}": the disk is full`);
  }
  if (/unable to open database|disk I\/O error|Database is closed/i.test(message)) {
    return new OperationError(`Cannot use store "${path}": ${first}`);
  }
  return error;
}

/** Shared state of one guarded store handle. */
interface Guard {
  path: string;
  remote: boolean;
  onWait: ((message: string) => void) | null;
  /** When the current wait was reported (null: no call is known to be waiting). */
  waitingSince: number | null;
  timeoutMs: number;
  /** Set once a call gave up waiting: the store's thread is stuck, so close() must not wait. */
  wedged: boolean;
}

/** How long store calls wait before a guard with `onWait` says so. */
export const SLOW_CALL_MS = 5_000;

/** Runs one store call with busy retries, a deadline and clear errors. */
function guarded<T>(guard: Guard, fn: () => Promise<T>): Promise<T> {
  let call = retryBusy(fn).catch((error) => {
    throw storeError(error, guard.path);
  });
  if (guard.onWait) call = noticed(guard, call);
  if (!Number.isFinite(guard.timeoutMs)) return call;
  let cancel = () => {};
  const deadline = new Promise<never>((_, reject) => {
    const expire = () => reject(gaveUp(guard));
    if (signalDeadlines++ < SIGNAL_DEADLINES) {
      const signal = AbortSignal.timeout(guard.timeoutMs);
      signal.addEventListener("abort", expire, { once: true });
      cancel = () => signal.removeEventListener("abort", expire);
    } else {
      const timer = setTimeout(expire, guard.timeoutMs);
      cancel = () => clearTimeout(timer);
    }
  });
  return Promise.race([call, deadline]).finally(() => cancel());
}

/** Reports a call that waits SLOW_CALL_MS (once per outage), and the store's return. */
function noticed<T>(guard: Guard, call: Promise<T>): Promise<T> {
  const timer = setTimeout(() => {
    if (guard.waitingSince !== null) return;
    guard.waitingSince = Date.now() - SLOW_CALL_MS;
    const what = guard.remote ? "not answering" : "not answering (locked?)";
    guard.onWait?.(
      `store "${guard.path}" ${what} for ${
        SLOW_CALL_MS / 1000
      }s; waiting for it (retried with backoff)`,
    );
  }, SLOW_CALL_MS);
  return call.finally(() => {
    clearTimeout(timer);
    if (guard.waitingSince === null) return;
    const seconds = Math.round((Date.now() - guard.waitingSince) / 100) / 10;
    guard.waitingSince = null;
    guard.onWait?.(`store "${guard.path}" answering again after ${seconds}s`);
  });
}

/**
 * How many calls of a process get their deadline from an AbortSignal.timeout. Deno loads
 * its Node-compatible timers on the first setTimeout, about 8 ms of a command's start-up;
 * the signal's timer needs nothing loaded and, its listener removed, neither fires nor
 * keeps the process alive, but it lives (about 600 bytes) until its time is up. A command
 * makes a few calls; a long-lived process (dashboard, `status --watch`) goes on with
 * timers it can clear.
 */
const SIGNAL_DEADLINES = 64;
let signalDeadlines = 0;

/** The error of a call that waited past its deadline (and marks the store wedged). */
function gaveUp(guard: Guard): OperationError {
  guard.wedged = true;
  const seconds = Math.round(guard.timeoutMs / 100) / 10;
  if (guard.remote) {
    return new OperationError(`Store "${guard.path}" did not answer: gave up after ${seconds}s`);
  }
  return new OperationError(
    `Store "${guard.path}" is locked by another process: gave up after ${seconds}s`,
  );
}

/** Wraps an atomic operation so that its commit is guarded. */
function wrapAtomic(guard: Guard, op: Deno.AtomicOperation): Deno.AtomicOperation {
  const commit = op.commit.bind(op);
  op.commit = () => guarded(guard, commit);
  return op;
}

/** Wraps a list iterator so that each step is guarded. */
function wrapList<T>(guard: Guard, iter: Deno.KvListIterator<T>): Deno.KvListIterator<T> {
  const next = iter.next.bind(iter);
  iter.next = () => guarded(guard, next);
  return iter;
}

/**
 * A Deno.Kv whose calls retry while the file is busy, give up with one clear line after
 * the deadline (Deno KV itself would wait for a lock for ever), and name the file in
 * store errors. After a call gave up, `close()` does not wait for the stuck call.
 */
export function busyTolerant(kv: Deno.Kv, options: GuardOptions = {}): Deno.Kv {
  const guard: Guard = {
    path: options.path ?? "queue.db",
    remote: options.remote ?? false,
    onWait: options.onWait ?? null,
    waitingSince: null,
    timeoutMs: options.timeoutMs ?? busyTimeoutMs(),
    wedged: false,
  };
  const guardedKv = new Proxy(kv, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      switch (prop) {
        case "get":
        case "getMany":
        case "set":
        case "delete":
          return (...args: unknown[]) => guarded(guard, () => value.apply(target, args));
        case "atomic":
          return () => wrapAtomic(guard, target.atomic());
        case "list":
          return (...args: unknown[]) => wrapList(guard, value.apply(target, args));
        case "close":
          return () => {
            if (!guard.wedged) target.close();
          };
        default:
          return value.bind(target);
      }
    },
  });
  return guard.remote ? markKvConnect(guardedKv) : guardedKv;
}
