/**
 * Wake-ups of a worker's idle lanes: sources that say "a job may be ready" (the unix socket
 * that `enqueue` pokes on this host, and any other a worker is given), a count of wake-ups
 * the lanes compare around an empty claim, and the wait they cut short.
 * @module
 */
import { type Paths, wakeSocketPath } from "../paths.ts";
import { WAKE_KEY } from "../store/keys.ts";
import { isKvConnect } from "../store/limits.ts";
import { wakeListen } from "./wake_socket.ts";

/** Something that can tell a worker a job may be ready (a socket, a store watch, …). */
export interface WakeSource {
  /** A short name for the worker log. */
  name: string;
  /** Starts calling `onWake`; null when this source cannot work here (polling stays). */
  listen(onWake: () => void): Promise<WakeSubscription | null>;
}

/** A source that is listening; `close` stops it and frees what it holds. */
export interface WakeSubscription {
  close(): Promise<void>;
}

/** The wake-ups a worker has had, and the lanes waiting for one. */
export interface Wakeups {
  /** How many wake-ups came (a lane compares it before and after an empty claim). */
  count: number;
  /** The waits to cut short at the next wake-up. */
  sleepers: Set<() => void>;
}

/** No wake-up yet, nobody waiting. */
export function wakeupsNew(): Wakeups {
  return { count: 0, sleepers: new Set() };
}

/** A wake-up came: counts it and ends every wake-able wait. */
export function wakeUp(state: Wakeups): void {
  state.count++;
  for (const wake of [...state.sleepers]) wake();
}

/**
 * Waits `ms`, or less when `stop` aborts (or, if `wakeable` is given, when a wake-up comes).
 */
export function idle(
  ms: number,
  options: { stop: AbortSignal; wakeable?: Wakeups },
): Promise<void> {
  const { stop, wakeable } = options;
  return new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener("abort", done);
      wakeable?.sleepers.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener("abort", done, { once: true });
    wakeable?.sleepers.add(done);
  });
}

/** The wake-up socket beside a local store (see lib/worker/wake_socket.ts). */
export function socketWakeSource(paths: Paths, workerId: string): WakeSource {
  return {
    name: "socket",
    listen: async (onWake) => {
      const socket = wakeSocketPath(paths.dbPath, workerId);
      return socket ? await wakeListen(socket, onWake) : null;
    },
  };
}

/**
 * A watch on the store's WAKE_KEY, which commits making a job ready bump: on a KV Connect
 * store it wakes idle workers on every host (one long-lived request, no polling). Null on
 * a local file, whose watch does not see other processes' writes.
 */
export function storeWatchWakeSource(kv: Deno.Kv): WakeSource {
  return {
    name: "store watch",
    listen: (onWake) => {
      if (!isKvConnect(kv)) return Promise.resolve(null);
      const reader = kv.watch([WAKE_KEY]).getReader();
      const reading = (async () => {
        await reader.read(); // the first value is the key as it is now
        while (!(await reader.read()).done) onWake();
      })().catch(() => {}); // cancelled, or the store closed
      return Promise.resolve({
        close: async () => {
          await reader.cancel().catch(() => {});
          await reading;
        },
      });
    },
  };
}

/** Starts every source, each waking `state`; returns the ones listening. */
export async function wakeSourcesListen(
  sources: WakeSource[],
  state: Wakeups,
): Promise<WakeSubscription[]> {
  const listening = await Promise.all(sources.map((s) => s.listen(() => wakeUp(state))));
  return listening.filter((s): s is WakeSubscription => s !== null);
}
