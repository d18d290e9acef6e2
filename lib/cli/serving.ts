/**
 * No silent waits: whether a live worker serves a job's queue, said once on stderr when
 * none does (with how to start one), and `enqueue --start` starting one.
 * @module
 */
import type { Paths } from "../paths.ts";
import { isBeating, workerList, type WorkerRecord } from "../store/workers.ts";
import type { CliContext } from "./context.ts";

/** Queues among `queues` that no live worker serves (a worker with no `--queue` serves all). */
export function unservedQueues(workers: WorkerRecord[], queues: string[]): string[] {
  return [...new Set(queues)].filter((q) =>
    !workers.some((w) => w.queues === null || w.queues.includes(q))
  );
}

/** The one line that says a queue has no worker, and how to start one. */
export function unservedLine(queues: string[], what: string): string {
  const names = queues.map((q) => `"${q}"`).join(", ");
  const flag = queues.length === 1 && queues[0] === "default" ? "" : ` --queue ${queues.join(",")}`;
  return `No worker is running for queue ${names}: ${what} until one starts ` +
    `(queuectl worker start${flag}, or queuectl enqueue --start)\n`;
}

/**
 * Workers that are beating their heartbeat: one read, no process table, so that `enqueue`
 * stays fast (a worker killed in the last 30 s still counts).
 */
export async function liveWorkers(kv: Deno.Kv): Promise<WorkerRecord[]> {
  const now = new Date();
  return (await workerList(kv)).filter((w) => isBeating(w, now));
}

/**
 * Says once on stderr when no live worker serves any of `queues`. Returns the unserved
 * queues (empty when every queue has a worker).
 */
export async function warnIfUnserved(
  ctx: CliContext,
  kv: Deno.Kv,
  queues: string[],
  what: string,
): Promise<string[]> {
  if (queues.length === 0) return [];
  const unserved = unservedQueues(await liveWorkers(kv), queues);
  if (unserved.length > 0) ctx.err(unservedLine(unserved, what));
  return unserved;
}

/** Starts one detached worker serving every queue, for `enqueue --start`. */
export async function startOneWorker(
  ctx: CliContext,
  kv: Deno.Kv,
  paths: Paths,
  db: string | undefined,
): Promise<void> {
  const { spawnWorkers } = await import("../supervisor.ts");
  const [started] = await spawnWorkers(kv, ctx.launch, {
    paths,
    dbOverride: db,
    count: 1,
    concurrency: 1,
    queues: null,
    host: ctx.hostname(),
  });
  ctx.err(
    `Started worker ${started.id} (pid ${started.pid}) to run it; stop it with queuectl worker stop\n`,
  );
}
