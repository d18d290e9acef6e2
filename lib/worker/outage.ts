/**
 * Store outages as a worker lives through them: when the store became unavailable (said
 * once in the log, and in a marker file beside the worker logs that `status` reads while
 * the store cannot be written), when it came back (said again), and the hold after it: for
 * a lease period no rescuer on this host takes the worker's jobs (their leases lapsed
 * because nobody could write, not because the worker is gone) while it renews them.
 * @module
 */
import type { Job } from "../job.ts";
import { workerOutageFile } from "../paths.ts";
import { isAlive } from "../process.ts";
import { storeFaultOf } from "../store/fault.ts";
import { outagePauseMs } from "./error_policy.ts";
import { errorLine, type WorkerEvent } from "./events.ts";

/** A worker's view of the store's availability. */
export interface OutageState {
  /** Date.now() when the store became unavailable; null while it is available. */
  since: number | null;
  /** Failed tries since the outage began (pauses grow with them). */
  tries: number;
  /** Date.now() when the store last came back; null if it never went away. */
  backAt: number | null;
  /** Whether the marker file is there (from the outage until the hold after it ends). */
  marked: boolean;
  /** Called once each time the store comes back (the worker writes its record at once). */
  onBack: () => void;
}

/** What the outage unit needs of the worker. */
export interface OutageContext {
  outage: OutageState;
  emit: (event: WorkerEvent) => void;
  paths: { dataDir: string };
  id: string;
  pid: number;
}

/** An available store. */
export function outageNew(): OutageState {
  return { since: null, tries: 0, backAt: null, marked: false, onBack: () => {} };
}

/**
 * What a marker file says: since when this worker (its pid) found the store unavailable,
 * and when it came back (null while it is still unavailable).
 */
export interface OutageMarker {
  since: string;
  reason: string;
  pid: number;
  back_at: string | null;
}

/** Writes the worker's marker; a failure (a full disk) only leaves `status` less to say. */
function markerWrite(ctx: OutageContext, marker: OutageMarker): void {
  ctx.outage.marked = true;
  Deno.mkdir(`${ctx.paths.dataDir}/workers`, { recursive: true, mode: 0o700 })
    .then(() =>
      Deno.writeTextFile(workerOutageFile(ctx.paths.dataDir, ctx.id), JSON.stringify(marker))
    )
    .catch(() => {});
}

/**
 * Reports a failed store call. Returns true when the store is unavailable (the caller waits
 * `outagePauseMs` and tries again, keeping its jobs running); the first such failure begins
 * an outage: logged once, and a marker file written for `status`.
 */
export function outageFailed(ctx: OutageContext, error: unknown): boolean {
  const fault = storeFaultOf(error);
  if (fault.kind !== "unavailable") return false;
  const state = ctx.outage;
  state.tries++;
  if (state.since !== null) return true;
  state.since = Date.now();
  const since = new Date(state.since).toISOString();
  ctx.emit({ kind: "store_unavailable", since, reason: errorLine(error) });
  markerWrite(ctx, { since, reason: fault.reason, pid: ctx.pid, back_at: null });
  return true;
}

/** A write to the store succeeded: ends an outage, if one was on (logged, marker updated). */
export function outageOk(ctx: OutageContext): void {
  const state = ctx.outage;
  if (state.since === null) return;
  const since = new Date(state.since).toISOString();
  const backAt = Date.now();
  ctx.emit({ kind: "store_back", since, downMs: backAt - state.since });
  state.since = null;
  state.tries = 0;
  state.backAt = backAt;
  markerWrite(ctx, {
    since,
    reason: "back",
    pid: ctx.pid,
    back_at: new Date(backAt).toISOString(),
  });
  state.onBack();
}

/** Removes the marker once the hold after an outage is over (`holdMs`: a lease period). */
export function outageSettle(ctx: OutageContext, now: number, holdMs: number): void {
  const state = ctx.outage;
  if (!state.marked || rescueHeld(state, now, holdMs)) return;
  state.marked = false;
  Deno.remove(workerOutageFile(ctx.paths.dataDir, ctx.id)).catch(() => {});
}

/**
 * A rescuer's test of a job whose lease lapsed: spared while its worker on this host left
 * an outage marker in `dataDir` (it waits out an outage, or renews after one) and its
 * process lives (or cannot be told dead).
 */
export function outageSpare(dataDir: string): (job: Job) => Promise<boolean> {
  return async (job) => {
    if (!job.worker_id) return false;
    const marker = (await outageMarkersRead(dataDir, [job.worker_id])).get(job.worker_id);
    return marker !== undefined && await isAlive(marker.pid) !== false;
  };
}

/** The pause before the next try of a call that found the store unavailable. */
export function outagePause(state: OutageState): number {
  return outagePauseMs(state.tries);
}

/**
 * Whether the rescuer holds off at `now`: during an outage, and for `holdMs` (a lease
 * period) after it, so that leases that lapsed while nobody could write are renewed by
 * their workers before anyone takes their jobs for lost.
 */
export function rescueHeld(state: OutageState, now: number, holdMs: number): boolean {
  if (state.since !== null) return true;
  return state.backAt !== null && now - state.backAt < holdMs;
}

/** The outage markers of these workers of this host found in `dataDir`, by worker id. */
export async function outageMarkersRead(
  dataDir: string,
  workerIds: string[],
): Promise<Map<string, OutageMarker>> {
  const found = new Map<string, OutageMarker>();
  for (const id of workerIds) {
    try {
      const marker = JSON.parse(await Deno.readTextFile(workerOutageFile(dataDir, id)));
      if (typeof marker?.since === "string" && typeof marker.pid === "number") {
        found.set(id, marker as OutageMarker);
      }
    } catch {
      // no marker (the usual case), or one being written: the store is available to it
    }
  }
  return found;
}
