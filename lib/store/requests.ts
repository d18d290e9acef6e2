/**
 * Requests to cancel a running job: written by `cancel`, read by the worker running it,
 * removed by the commit that finishes the job.
 * @module
 */
import { cancelKey } from "./keys.ts";

/** Asks the worker running a job to kill it; the job ends cancelled. */
export async function cancelRequestPut(kv: Deno.Kv, id: string, now: Date): Promise<void> {
  await kv.set(cancelKey(id), { requested_at: now.toISOString() });
}

/** Which of these (running) job ids have a cancel request. */
export async function cancelRequestsGet(kv: Deno.Kv, ids: string[]): Promise<Set<string>> {
  const asked = new Set<string>();
  for (let i = 0; i < ids.length; i += 10) {
    const slice = ids.slice(i, i + 10);
    const entries = await kv.getMany(slice.map(cancelKey));
    entries.forEach((entry, j) => {
      if (entry.value !== null) asked.add(slice[j]);
    });
  }
  return asked;
}

/** Adds the removal of a job's cancel request to a commit (the one that finishes the job). */
export function cancelRequestClear(op: Deno.AtomicOperation, id: string): void {
  op.delete(cancelKey(id));
}

/**
 * Adds to a commit the check that a job has no cancel request (instead of removing one):
 * a commit that finishes a job whose cancel nobody saw fails if one came meanwhile.
 */
export function cancelRequestAbsent(op: Deno.AtomicOperation, id: string): void {
  op.check({ key: cancelKey(id), versionstamp: null });
}
