/**
 * Retrying store calls that SQLite refused with "database is locked": several processes
 * share one KV file, and a writer may find it busy. A refused call did nothing, so it is
 * safe to repeat (a commit repeats with the same checks).
 * @module
 */

const MAX_WAIT_MS = 30_000;

/** Reports whether an error is SQLite's busy/locked refusal. */
export function isBusyError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /database is locked|database table is locked|SQLITE_BUSY|DatabaseBusy/i.test(message);
}

/** Calls `fn`, repeating it with a short random backoff while the store is busy. */
export async function retryBusy<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + MAX_WAIT_MS;
  let wait = 1;
  while (true) {
    try {
      return await fn();
    } catch (error) {
      if (!isBusyError(error) || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
      wait = Math.min(wait * 2, 50);
    }
  }
}

/** Wraps an atomic operation so that its commit retries while the store is busy. */
function wrapAtomic(op: Deno.AtomicOperation): Deno.AtomicOperation {
  const commit = op.commit.bind(op);
  op.commit = () => retryBusy(commit);
  return op;
}

/** Wraps a list iterator so that each step retries while the store is busy. */
function wrapList<T>(iter: Deno.KvListIterator<T>): Deno.KvListIterator<T> {
  const next = iter.next.bind(iter);
  iter.next = () => retryBusy(next);
  return iter;
}

/** A Deno.Kv whose calls retry while the file is locked by another process. */
export function busyTolerant(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      switch (prop) {
        case "get":
        case "getMany":
        case "set":
        case "delete":
          return (...args: unknown[]) => retryBusy(() => value.apply(target, args));
        case "atomic":
          return () => wrapAtomic(target.atomic());
        case "list":
          return (...args: unknown[]) => wrapList(value.apply(target, args));
        default:
          return value.bind(target);
      }
    },
  });
}
