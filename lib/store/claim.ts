/**
 * Claiming the best runnable job with an atomic check-and-set on its record.
 * @module
 */
import { claim } from "../state_machine.ts";
import { jobCommitChange, type JobEntry, jobGetMany } from "./jobs.ts";
import { QUEUE_PREFIX, readyPrefix } from "./keys.ts";

/** How a claim attempt ended. */
export type ClaimResult =
  | { kind: "claimed"; entry: JobEntry }
  | { kind: "empty" }
  | { kind: "contended" };

/** What a claim needs to know. */
export interface ClaimOptions {
  workerId: string;
  leaseSeconds: number;
  now: Date;
  /** Queues to serve; all known queues when absent. */
  queues?: string[];
  /** How many head candidates to try before giving up as contended. */
  candidates?: number;
}

/**
 * Takes the best ready job (highest priority, then oldest): reads the heads of the ready
 * index and commits `pending|failed → processing` checked against the versionstamp read.
 * Two workers can never both win: the loser's check fails and it moves to the next one.
 */
export async function jobClaimNext(kv: Deno.Kv, options: ClaimOptions): Promise<ClaimResult> {
  const limit = options.candidates ?? 4;
  const queues = options.queues ?? await queueNames(kv);
  const heads: { key: Deno.KvKey; id: string }[] = [];
  for (const queue of queues) {
    for await (const entry of kv.list<string>({ prefix: readyPrefix(queue) }, { limit })) {
      heads.push({ key: entry.key, id: entry.value });
    }
  }
  if (heads.length === 0) return { kind: "empty" };
  heads.sort((a, b) => compareParts(a.key.slice(2), b.key.slice(2)));
  const entries = await jobGetMany(kv, heads.slice(0, limit).map((h) => h.id));
  for (const entry of entries) {
    const next = claim(entry.job, {
      now: options.now,
      workerId: options.workerId,
      leaseToken: crypto.randomUUID(),
      leaseSeconds: options.leaseSeconds,
    });
    if (!next.ok) continue;
    const result = await jobCommitChange(kv, entry, next.job);
    if (result) {
      return { kind: "claimed", entry: { job: next.job, versionstamp: result.versionstamp } };
    }
  }
  return { kind: "contended" };
}

/** The names of every queue a job was ever enqueued to. */
export async function queueNames(kv: Deno.Kv): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of kv.list({ prefix: QUEUE_PREFIX })) names.push(entry.key[1] as string);
  return names;
}

function compareParts(a: Deno.KvKey, b: Deno.KvKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number | string, y = b[i] as number | string;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return a.length - b.length;
}
