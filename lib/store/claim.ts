/**
 * Claiming the best runnable job with an atomic check-and-set on its record, honouring the
 * queues' pause and concurrency settings in the same commit.
 * @module
 */
import type { Job } from "../job.ts";
import { claim } from "../state_machine.ts";
import { addChange, type CounterSums, type JobEntry, jobGetMany } from "./jobs.ts";
import type { StatsGather } from "./stats.ts";
import { queueConfigKey, queueCountKey, readyPrefix } from "./keys.ts";
import { toCount } from "./counts.ts";
import { ALL_QUEUES, queueNames, queueSettingsEntries, type QueueSettingsEntry } from "./queues.ts";

/** How a claim attempt ended. */
export type ClaimResult =
  | { kind: "claimed"; entry: JobEntry }
  | { kind: "empty" }
  | { kind: "contended" };

/** Queue names and settings a worker keeps between claims (refreshed after `maxAgeMs`). */
export interface ClaimCache {
  at: number;
  names: string[];
  settings: Map<string, QueueSettingsEntry>;
}

/** Queue settings read by claims, shared by a worker's lanes (each claim commit re-checks them). */
export interface ClaimCacheState {
  current: ClaimCache | null;
  maxAgeMs: number;
  /** When a claim last lost a race (Date.now()). */
  contendedAt?: number;
  /**
   * Jobs this process's lanes have claimed or are claiming, by id, with the versionstamp
   * they were read at: a sibling lane's older read of such a job is skipped instead of
   * raced (its commit could only fail). A job back in the ready index has a new one.
   */
  taken?: Map<string, TakenMark>;
}

/** What a claim needs to know. */
export interface ClaimOptions {
  workerId: string;
  leaseSeconds: number;
  now: Date;
  /** Queues to serve; all known queues when absent. */
  queues?: string[];
  /** How many head candidates to try before giving up as contended. */
  candidates?: number;
  /**
   * Which of the equally good heads to try first. Claimers that all went for the very first
   * job would collide on every claim (only one commit can win); each starting at its own
   * offset among the heads of the best priority keeps them apart. Priority order is kept;
   * FIFO is relaxed only among the few oldest jobs, which start within moments anyway.
   */
  spread?: number;
  /**
   * Settings read earlier. Safe to reuse: the claim commit checks their versionstamps, so a
   * pause or cap committed since makes the claim fail and the cache is dropped.
   */
  cache?: ClaimCacheState;
  /** Counter changes and statistics of the whole commit, gathered (see ChangeExtras). */
  gather?: { sums?: CounterSums; stats?: StatsGather };
}

/** What a claim reads: the queues' settings and running counts, and the best ready jobs. */
export interface ClaimCandidates {
  view: ClaimCache;
  /** Running counts of the capped queues, as read (checked by the claim commit). */
  running: Map<string, Deno.KvEntryMaybe<Deno.KvU64>>;
  /** The best ready jobs, in the order to try them. */
  entries: JobEntry[];
  /** When they were read (Date.now()). */
  at: number;
}

/**
 * Reads what a claim needs: the heads of the ready index of every queue that is not paused
 * and below its concurrency cap, best first (highest priority, then oldest), and their
 * records. Null when no job is ready. `releasing` names the queue of a job that the same
 * commit finishes: its running count is one lower once that commit lands.
 */
export async function claimCandidates(
  kv: Deno.Kv,
  options: ClaimOptions,
  releasing?: string,
): Promise<ClaimCandidates | null> {
  const limit = options.candidates ?? 4;
  const view = await settingsView(kv, options);
  // Nothing claimable as the view says: the next claim reads the settings afresh (a
  // resume or a raised cap is seen at once, not when the cached view ages).
  const none = () => {
    if (options.cache && options.cache.current === view) options.cache.current = null;
    return null;
  };
  const all = view.settings.get(ALL_QUEUES)!;
  if (all.settings.paused) return none();
  const open = view.names.filter((q) => !view.settings.get(q)!.settings.paused);
  const capped = open.filter((q) => view.settings.get(q)!.settings.concurrency !== null);
  const running = new Map<string, Deno.KvEntryMaybe<Deno.KvU64>>();
  for (let i = 0; i < capped.length; i += 10) {
    const slice = capped.slice(i, i + 10);
    const entries = await kv.getMany<Deno.KvU64[]>(
      slice.map((q) => queueCountKey(q, "processing")),
    );
    entries.forEach((e, j) => running.set(slice[j], e));
  }
  const available = open.filter((q) => {
    const cap = view.settings.get(q)!.settings.concurrency;
    if (cap === null) return true;
    return toCount(running.get(q)!.value) - (q === releasing ? 1 : 0) < cap;
  });
  const heads: { key: Deno.KvKey; id: string }[] = [];
  for (const queue of available) {
    for await (const entry of kv.list<string>({ prefix: readyPrefix(queue) }, { limit })) {
      heads.push({ key: entry.key, id: entry.value });
    }
  }
  // Nothing ready in the queues known when the view was cached (a new queue may have
  // appeared, or one was resumed): the next claim reads names and settings afresh.
  if (heads.length === 0) return none();
  heads.sort((a, b) => compareParts(a.key.slice(2), b.key.slice(2)));
  const ids = spread(heads.slice(0, limit), options.spread ?? 0).map((h) => h.id);
  return { view, running, entries: await jobGetMany(kv, ids), at: Date.now() };
}

/**
 * Adds to `op` the claim of `entry` (`pending|failed → processing`) checked against the
 * job's versionstamp, the queue settings and (for a capped queue) its running count as
 * read, and marks it taken for the sibling lanes (see ClaimCacheState.taken). Returns the
 * claimed job, or null when this worker cannot claim it or a sibling lane is claiming it.
 */
export async function addClaim(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  candidates: ClaimCandidates,
  entry: JobEntry,
  options: ClaimOptions,
): Promise<Job | null> {
  const next = claim(entry.job, {
    now: options.now,
    workerId: options.workerId,
    leaseToken: crypto.randomUUID(),
    leaseSeconds: options.leaseSeconds,
  });
  if (!next.ok) return null;
  const { view, running } = candidates;
  const queue = view.settings.get(entry.job.queue);
  if (!queue) return null; // a queue this worker does not serve
  if (!takenMark(options, entry)) return null; // before any await: lanes never both mark it
  const all = view.settings.get(ALL_QUEUES)!;
  await addChange(kv, op, entry, next.job, {
    sums: options.gather?.sums,
    stats: options.gather?.stats,
    more: (op) => {
      op.check({ key: queueConfigKey(ALL_QUEUES), versionstamp: all.versionstamp });
      op.check({ key: queueConfigKey(queue.name), versionstamp: queue.versionstamp });
      const count = running.get(queue.name);
      if (count) op.check({ key: count.key, versionstamp: count.versionstamp });
    },
  });
  return next.job;
}

/**
 * A claim commit failed: the job, a queue's settings or its running count changed. Drops
 * the cached settings and notes when claims were last contended; true when the settings
 * did change (the caller should read afresh).
 */
export async function claimFailed(
  kv: Deno.Kv,
  candidates: ClaimCandidates,
  options: ClaimOptions,
): Promise<boolean> {
  if (options.cache) {
    options.cache.current = null;
    options.cache.contendedAt = Date.now();
  }
  return await settingsChanged(kv, candidates.view);
}

/**
 * Takes the best ready job (highest priority, then oldest) from the queues that are not
 * paused and below their concurrency cap: reads the heads of the ready index and commits
 * `pending|failed → processing` checked against the job's versionstamp, the queue settings
 * and (for a capped queue) its running count. Two workers can never both win one job, and
 * a capped queue never runs more than its cap: the loser's check fails.
 */
export async function jobClaimNext(kv: Deno.Kv, options: ClaimOptions): Promise<ClaimResult> {
  const candidates = await claimCandidates(kv, options);
  if (!candidates) return { kind: "empty" };
  for (const entry of candidates.entries) {
    const op = kv.atomic();
    const job = await addClaim(kv, op, candidates, entry, options);
    if (!job) continue;
    const result = await op.commit().catch((error) => {
      takenRelease(options, entry);
      throw error;
    });
    if (result.ok) return { kind: "claimed", entry: { job, versionstamp: result.versionstamp } };
    takenRelease(options, entry);
    if (await claimFailed(kv, candidates, options)) return { kind: "contended" };
  }
  return { kind: "contended" };
}

/** How many claimed jobs a process remembers (its lanes' reads are milliseconds old). */
const TAKEN_KEPT = 256;

/**
 * How long a mark holds: a sibling's read is at most this old when it claims, and a claim
 * that never reported back (its commit threw) frees the job after it.
 */
const TAKEN_MS = 2000;

/** One job this process's lanes have claimed or are claiming, as read, and since when. */
export interface TakenMark {
  versionstamp: string;
  at: number;
}

/**
 * Marks `entry` as being claimed by this process; false when a sibling lane already has it
 * (as read: a job read again after it came back is a new entry). Synchronous, so two lanes
 * that read the same heads never go for the same one.
 */
function takenMark(options: ClaimOptions, entry: JobEntry): boolean {
  const taken = options.cache?.taken;
  if (!taken) return true;
  const now = Date.now();
  const mark = taken.get(entry.job.id);
  if (mark && mark.versionstamp === entry.versionstamp && now - mark.at < TAKEN_MS) return false;
  taken.delete(entry.job.id);
  taken.set(entry.job.id, { versionstamp: entry.versionstamp, at: now });
  if (taken.size > TAKEN_KEPT) taken.delete(taken.keys().next().value!);
  return true;
}

/** A claim of `entry` did not land: a sibling lane may go for it again. */
export function takenRelease(options: ClaimOptions, entry: JobEntry): void {
  const taken = options.cache?.taken;
  if (taken?.get(entry.job.id)?.versionstamp === entry.versionstamp) taken.delete(entry.job.id);
}

async function settingsView(kv: Deno.Kv, options: ClaimOptions): Promise<ClaimCache> {
  const cached = options.cache?.current;
  const fresh = cached && Date.now() - cached.at < options.cache!.maxAgeMs &&
    (options.queues ?? []).every((q) => cached.settings.has(q));
  if (fresh) return cached;
  const names = options.queues ?? await queueNames(kv);
  const entries = await queueSettingsEntries(kv, [ALL_QUEUES, ...names]);
  const view: ClaimCache = {
    at: Date.now(),
    names,
    settings: new Map(entries.map((e) => [e.name, e])),
  };
  if (options.cache) options.cache.current = view;
  return view;
}

async function settingsChanged(kv: Deno.Kv, view: ClaimCache): Promise<boolean> {
  const names = [...view.settings.keys()];
  const now = await queueSettingsEntries(kv, names);
  return now.some((e) => e.versionstamp !== view.settings.get(e.name)!.versionstamp);
}

/** Rotates the heads that share the best priority so that the `offset`-th comes first. */
function spread<T extends { key: Deno.KvKey }>(heads: T[], offset: number): T[] {
  if (heads.length < 2 || offset === 0) return heads;
  const best = heads[0].key[2];
  const same = heads.findIndex((h) => h.key[2] !== best);
  const n = same < 0 ? heads.length : same;
  const k = offset % n;
  return [...heads.slice(k, n), ...heads.slice(0, k), ...heads.slice(n)];
}

function compareParts(a: Deno.KvKey, b: Deno.KvKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number | string, y = b[i] as number | string;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return a.length - b.length;
}
