/**
 * Worker records (who runs where, heartbeat) and stop requests, which reach workers on
 * every host because each worker reads its own.
 * @module
 */
import { WORKER_PREFIX, workerKey, workerStopKey } from "./keys.ts";

/** Ages after which a worker with no heartbeat is taken for gone. */
export const STALE_AFTER_MS = 30_000;

/** Reports whether a worker's heartbeat is recent enough for it to be alive. */
export function isBeating(record: WorkerRecord, now: Date): boolean {
  return now.getTime() - Date.parse(record.heartbeat_at) <= STALE_AFTER_MS;
}

/** A running worker as recorded in the store. */
export interface WorkerRecord {
  id: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
  concurrency: number;
  queues: string[] | null;
}

/** A request to a worker to stop; `force` kills its jobs and puts them back at once. */
export interface StopRequest {
  requested_at: string;
  force: boolean;
}

/** Writes (or refreshes) a worker's record. */
export async function workerPut(kv: Deno.Kv, record: WorkerRecord): Promise<void> {
  await kv.set(workerKey(record.id), record);
}

/** Removes a worker's record and its stop request. */
export async function workerRemove(kv: Deno.Kv, id: string): Promise<void> {
  await kv.atomic().delete(workerKey(id)).delete(workerStopKey(id)).commit();
}

/** One worker's record, or null when it is gone. */
export async function workerGet(kv: Deno.Kv, id: string): Promise<WorkerRecord | null> {
  return (await kv.get<WorkerRecord>(workerKey(id))).value;
}

/** Every worker record. */
export async function workerList(kv: Deno.Kv): Promise<WorkerRecord[]> {
  const out: WorkerRecord[] = [];
  for await (const entry of kv.list<WorkerRecord>({ prefix: WORKER_PREFIX })) {
    out.push(entry.value);
  }
  return out;
}

/** Asks a worker to stop (it reads the request within about a second). */
export async function workerRequestStop(
  kv: Deno.Kv,
  id: string,
  request: StopRequest,
): Promise<void> {
  await kv.set(workerStopKey(id), request);
}

/** The stop request addressed to a worker, if any. */
export async function workerStopRequest(kv: Deno.Kv, id: string): Promise<StopRequest | null> {
  return (await kv.get<StopRequest>(workerStopKey(id))).value;
}
