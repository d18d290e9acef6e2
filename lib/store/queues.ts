/**
 * Named queues: their settings (concurrency cap, paused, exit-code policy) and names.
 * The claim reads the settings with their versionstamps and checks them in its commit, so
 * a pause or a cap holds from the moment it is committed.
 * @module
 */
import type { JobState } from "../job.ts";
import {
  QUEUE_CONFIG_PREFIX,
  QUEUE_PREFIX,
  queueConfigKey,
  queueCountKey,
  queueKey,
} from "./keys.ts";
import { toCount } from "./counts.ts";
import { wakeWorkersIn } from "./jobs.ts";

/** The name whose settings apply to every queue (`queuectl pause` with no queue). */
export const ALL_QUEUES = "*";

/** A queue's settings. */
export interface QueueSettings {
  /** At most this many of the queue's jobs run at once, across all workers and hosts. */
  concurrency: number | null;
  paused: boolean;
  /** Default exit-code policy for jobs enqueued to the queue without their own. */
  retry_on: number[] | null;
  fail_fast_on: number[] | null;
}

/** Settings of a queue that has none stored. */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  concurrency: null,
  paused: false,
  retry_on: null,
  fail_fast_on: null,
};

/** A queue's settings with the versionstamp they were read at (null: none stored). */
export interface QueueSettingsEntry {
  name: string;
  settings: QueueSettings;
  versionstamp: string | null;
}

/** Reads the settings of several queues (stored ones only in the map). */
export async function queueSettingsGetMany(
  kv: Deno.Kv,
  names: string[],
): Promise<Map<string, QueueSettings>> {
  const out = new Map<string, QueueSettings>();
  for (const e of await queueSettingsEntries(kv, names)) {
    if (e.versionstamp !== null) out.set(e.name, e.settings);
  }
  return out;
}

/** Reads the settings of several queues with their versionstamps, in the order given. */
export async function queueSettingsEntries(
  kv: Deno.Kv,
  names: string[],
): Promise<QueueSettingsEntry[]> {
  const out: QueueSettingsEntry[] = [];
  for (let i = 0; i < names.length; i += 10) {
    const slice = names.slice(i, i + 10);
    const entries = await kv.getMany<QueueSettings[]>(slice.map(queueConfigKey));
    entries.forEach((e, j) =>
      out.push({
        name: slice[j],
        settings: { ...DEFAULT_QUEUE_SETTINGS, ...(e.value ?? {}) },
        versionstamp: e.versionstamp,
      })
    );
  }
  return out;
}

/** Changes some of a queue's settings (a read-modify-write checked by versionstamp). */
export async function queueSettingsUpdate(
  kv: Deno.Kv,
  name: string,
  patch: Partial<QueueSettings>,
): Promise<QueueSettings> {
  for (let tries = 0; tries < 20; tries++) {
    const [entry] = await queueSettingsEntries(kv, [name]);
    const next = { ...entry.settings, ...patch };
    const op = kv.atomic()
      .check({ key: queueConfigKey(name), versionstamp: entry.versionstamp })
      .set(queueConfigKey(name), next);
    // A resume or a raised cap may make jobs claimable: on a KV Connect store, idle workers
    // on every host watch the wake key (a local store's workers poll within 100 ms).
    wakeWorkersIn(kv, op);
    const result = await op.commit();
    if (result.ok) return next;
  }
  throw new Error(`Queue "${name}" settings kept changing; try again`);
}

/** The names of every queue a job was ever enqueued to (what a worker serves by default). */
export async function queueNames(kv: Deno.Kv): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of kv.list({ prefix: QUEUE_PREFIX })) names.push(entry.key[1] as string);
  return names;
}

/** Every queue name: those jobs were enqueued to, and those with settings. */
export async function queueNamesAll(kv: Deno.Kv): Promise<string[]> {
  const names = new Set(await queueNames(kv));
  for await (const e of kv.list({ prefix: QUEUE_CONFIG_PREFIX })) {
    if (e.key[1] !== ALL_QUEUES) names.add(e.key[1] as string);
  }
  return [...names].sort();
}

/** How removing a queue's settings ended. */
export type QueueRemoveResult =
  | { kind: "removed" }
  | { kind: "unknown" }
  | { kind: "not_empty"; unfinished: number };

/** States of a queue's jobs that keep it from being removed. */
const UNFINISHED: JobState[] = ["pending", "processing", "failed"];

/**
 * Forgets a queue with no unfinished jobs: its settings and its name, in one commit checked
 * against its unfinished-job counters as read (an enqueue meanwhile makes it fail and retry).
 */
export async function queueRemove(kv: Deno.Kv, name: string): Promise<QueueRemoveResult> {
  for (let tries = 0; tries < 20; tries++) {
    const counters = await kv.getMany<Deno.KvU64[]>(UNFINISHED.map((s) => queueCountKey(name, s)));
    const [settings, seen] = await kv.getMany([queueConfigKey(name), queueKey(name)]);
    if (settings.versionstamp === null && seen.versionstamp === null) return { kind: "unknown" };
    const unfinished = counters.reduce((n, e) => n + toCount(e.value), 0);
    if (unfinished > 0) return { kind: "not_empty", unfinished };
    const op = kv.atomic();
    for (const e of counters) op.check(e);
    const result = await op.check(settings).check(seen)
      .delete(queueConfigKey(name)).delete(queueKey(name)).commit();
    if (result.ok) return { kind: "removed" };
  }
  throw new Error(`Queue "${name}" kept changing; try again`);
}
