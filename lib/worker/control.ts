/**
 * Control of a running worker: whether it is stopping (gracefully or by force), the jobs it
 * is running with the switch that stops each, and the stop and cancel requests read from
 * the store that flip them.
 * @module
 */
import { workerStopRequest } from "../store/workers.ts";
import { cancelRequestsGet } from "../store/requests.ts";

/** A worker's stop switches and its running jobs. */
export interface ControlState {
  /** Aborted once the worker is stopping: lanes claim no more. */
  stopping: AbortController;
  /** Aborted once the stop is forced: running jobs are killed and put back. */
  forced: AbortController;
  /** The abort switch of each running job, by job id (aborted with a StopReason). */
  running: Map<string, AbortController>;
}

/** Where control requests come from (the store; tests pass their own). */
export interface ControlRequests {
  /** This worker's stop request, if any. */
  stopRequest(workerId: string): Promise<{ force: boolean } | null>;
  /** Which of these running job ids have a cancel request. */
  cancelRequests(ids: string[]): Promise<Set<string>>;
}

/** What one read of the requests found that is news. */
export interface ControlPoll {
  /** A stop request that changes something (first stop, or the first forced one). */
  stop: { force: boolean } | null;
  /** Running jobs whose cancel was asked for: their switches have been flipped. */
  cancelled: string[];
}

/** A worker that is running, not stopping. */
export function controlNew(): ControlState {
  return { stopping: new AbortController(), forced: new AbortController(), running: new Map() };
}

/** The requests as kept in the store. */
export function storeRequests(kv: Deno.Kv): ControlRequests {
  return {
    stopRequest: (workerId) => workerStopRequest(kv, workerId),
    cancelRequests: (ids) => cancelRequestsGet(kv, ids),
  };
}

/** Whether a stop (forced or not) would change anything. */
export function stopIsNews(state: ControlState, force: boolean): boolean {
  return !state.stopping.signal.aborted || (force && !state.forced.signal.aborted);
}

/**
 * Stops the worker: no more claims; when forced, every running job is killed (it goes back
 * to the queue). Returns whether this changed anything.
 */
export function controlStop(state: ControlState, force: boolean): boolean {
  const news = stopIsNews(state, force);
  state.stopping.abort();
  if (force && !state.forced.signal.aborted) {
    state.forced.abort();
    for (const ctl of state.running.values()) ctl.abort("stopped");
  }
  return news;
}

/**
 * Reads this worker's stop request and the cancel requests of its running jobs; cancels
 * those jobs. A stop found is returned, not applied (the caller reports and applies it).
 */
export async function controlPoll(
  state: ControlState,
  requests: ControlRequests,
  workerId: string,
): Promise<ControlPoll> {
  const request = await requests.stopRequest(workerId);
  const stop = request && stopIsNews(state, request.force) ? { force: request.force } : null;
  const cancelled: string[] = [];
  if (state.running.size > 0) {
    for (const id of await requests.cancelRequests([...state.running.keys()])) {
      const ctl = state.running.get(id);
      if (!ctl) continue;
      ctl.abort("cancelled");
      cancelled.push(id);
    }
  }
  return { stop, cancelled };
}
