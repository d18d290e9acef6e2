/**
 * Job records and their indexes: reading, inserting, and writing one state change as one
 * atomic commit (record + indexes + counters), checked by versionstamp.
 * @module
 */
import type { Attempt, Job, JobState } from "../job.ts";
import {
  attemptKey,
  attemptPrefix,
  BY_SEQ_PREFIX,
  byStatePrefix,
  DEPENDENTS_PREFIX,
  dependentsKey,
  depKey,
  depPrefix,
  heldUniqueKey,
  jobCounterKeys,
  jobIndexKeys,
  jobKey,
  queueKey,
  uniqueKey,
  WAKE_KEY,
} from "./keys.ts";
import { FINAL_STATES } from "../job.ts";
import { isBlocked, isDue, releaseDependency } from "../state_machine.ts";
import { addStats, type StatsGather } from "./stats.ts";
import { isKvConnect, storeLimits } from "./limits.ts";

/** A job with the versionstamp it was read at. */
export interface JobEntry {
  job: Job;
  versionstamp: string;
}

const ONE = 1n;
const MINUS_ONE = (1n << 64n) - 1n; // sum() wraps modulo 2^64: adding this subtracts one
const KV_GET_MANY_MAX = 10;

/** Reads one job, or null when there is no job with that id. */
export async function jobGet(kv: Deno.Kv, id: string): Promise<JobEntry | null> {
  const entry = await kv.get<Job>(jobKey(id));
  return entry.value === null ? null : { job: entry.value, versionstamp: entry.versionstamp! };
}

/** Reads many jobs by id, in order, skipping ids that no longer exist. */
export async function jobGetMany(kv: Deno.Kv, ids: string[]): Promise<JobEntry[]> {
  const batches: Promise<Deno.KvEntryMaybe<Job>[]>[] = [];
  for (let i = 0; i < ids.length; i += KV_GET_MANY_MAX) {
    batches.push(kv.getMany<Job[]>(ids.slice(i, i + KV_GET_MANY_MAX).map(jobKey)));
  }
  const out: JobEntry[] = [];
  for (const batch of await Promise.all(batches)) {
    for (const entry of batch) {
      if (entry.value !== null) out.push({ job: entry.value, versionstamp: entry.versionstamp! });
    }
  }
  return out;
}

/**
 * Adds to `op` the mutations that turn `before` into `after`: the record, the index keys
 * that appear or disappear, and the counters. `before` null inserts; `after` null deletes.
 */
export function addJobChange(
  op: Deno.AtomicOperation,
  before: Job | null,
  after: Job | null,
  sums?: CounterSums,
) {
  const id = (after ?? before)!.id;
  if (after) op.set(jobKey(id), after);
  else op.delete(jobKey(id));
  if (before === null && after !== null) {
    // An insert: every key is new (the common case of batch enqueue, kept cheap).
    for (const key of jobIndexKeys(after)) op.set(key, id);
    for (const key of jobCounterKeys(after)) {
      if (sums) sums.add(key, 1);
      else op.sum(key, ONE);
    }
    const held = heldUniqueKey(after);
    if (held) op.check({ key: held, versionstamp: null }).set(held, id);
    return;
  }
  const oldKeys = before ? jobIndexKeys(before) : [];
  const newKeys = after ? jobIndexKeys(after) : [];
  const newSet = new Set(newKeys.map(keyText));
  const oldSet = new Set(oldKeys.map(keyText));
  for (const key of oldKeys) if (!newSet.has(keyText(key))) op.delete(key);
  for (const key of newKeys) if (!oldSet.has(keyText(key))) op.set(key, id);
  const oldCounters = before ? jobCounterKeys(before) : [];
  const newCounters = after ? jobCounterKeys(after) : [];
  const newCounterSet = new Set(newCounters.map(keyText));
  const oldCounterSet = new Set(oldCounters.map(keyText));
  for (const key of oldCounters) {
    if (newCounterSet.has(keyText(key))) continue;
    if (sums) sums.add(key, -1);
    else op.sum(key, MINUS_ONE);
  }
  for (const key of newCounters) {
    if (oldCounterSet.has(keyText(key))) continue;
    if (sums) sums.add(key, 1);
    else op.sum(key, ONE);
  }
  // A unique key is held while the job is unfinished; taking it checks that it is free.
  const heldBefore = heldUniqueKey(before), heldAfter = heldUniqueKey(after);
  if (!heldBefore && heldAfter) op.check({ key: heldAfter, versionstamp: null }).set(heldAfter, id);
  if (heldBefore && !heldAfter) op.delete(heldBefore);
}

/** Whether a job can be claimed now (pending or failed, due, not waiting for others). */
function readyNow(job: Job): boolean {
  return (job.state === "pending" || job.state === "failed") && !isBlocked(job) &&
    isDue(job, new Date());
}

/**
 * On a KV Connect store, adds to a commit that makes a job ready the bump of WAKE_KEY that
 * idle workers on every host watch (a sum: concurrent commits never conflict on it).
 */
export function wakeWorkersIn(kv: Deno.Kv, op: Deno.AtomicOperation): void {
  if (isKvConnect(kv)) op.sum(WAKE_KEY, ONE);
}

/** Counter changes gathered over many jobs, written as one `sum` per counter. */
export class CounterSums {
  #sums = new Map<string, { key: Deno.KvKey; n: number }>();
  /** Adds `n` (may be negative) to a counter. */
  add(key: Deno.KvKey, n: number): void {
    const text = keyText(key);
    const entry = this.#sums.get(text);
    if (entry) entry.n += n;
    else this.#sums.set(text, { key, n });
  }
  /** Adds the gathered sums to `op` (a negative total wraps modulo 2^64). */
  flush(op: Deno.AtomicOperation): void {
    for (const { key, n } of this.#sums.values()) {
      if (n !== 0) op.sum(key, n > 0 ? BigInt(n) : (1n << 64n) + BigInt(n));
    }
  }
}

/** How many dependents a finishing job releases in its own commit (the rest follow). */
const RELEASE_IN_COMMIT = 40;

/**
 * Checks a finishing commit holds besides its dependents': the job's own, a worker's two
 * (the cancel request absent, the lane's statistics record as read), the four of a claim
 * of the lane's next job in the same commit (job, both queue settings, a running count),
 * and one a caller may add (purge: the dependents marker). A KV Connect store's 10 checks
 * leave room for 2 dependents; the rest are released right after it lands.
 */
const CHANGE_OWN_CHECKS = 8;

/** Checks a release commit holds besides its dependents': the parent and the marker. */
const RELEASE_OWN_CHECKS = 2;

/**
 * How many dependents one commit may release, given the checks it holds besides theirs
 * (one each): 40 on a KV file, 2 or 8 within a KV Connect store's 10 checks.
 */
function releaseLimit(kv: Deno.Kv, ownChecks: number): number {
  return Math.max(1, Math.min(RELEASE_IN_COMMIT, storeLimits(kv).checks - ownChecks));
}

/** Whether a change takes a job into a final state (which releases its dependents). */
function finishes(before: Job, after: Job | null): boolean {
  return after !== null && FINAL_STATES.includes(after.state) &&
    !FINAL_STATES.includes(before.state);
}

/**
 * Adds to `op` the release of up to `limit` jobs waiting for `parent` (now final): each
 * dependent is checked by versionstamp and updated, and its edge removed. Returns the
 * dependents that reached a final state themselves (they release theirs in turn), and
 * how many edges it took.
 */
async function addRelease(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  parent: Job,
  limit: number,
): Promise<{ finished: Job[]; edges: number }> {
  const ids: string[] = [];
  for await (const entry of kv.list({ prefix: depPrefix(parent.id) }, { limit })) {
    ids.push(entry.key[2] as string);
  }
  const now = new Date(parent.updated_at);
  const finished: Job[] = [];
  const children = new Map((await jobGetMany(kv, ids)).map((e) => [e.job.id, e]));
  for (const id of ids) {
    op.delete(depKey(parent.id, id));
    const child = children.get(id);
    if (!child) continue;
    const next = releaseDependency(child.job, { id: parent.id, state: parent.state }, now);
    if (!next.ok) continue;
    op.check({ key: jobKey(id), versionstamp: child.versionstamp });
    addJobChange(op, child.job, next.job);
    addStats(op, child.job, next.job);
    if (readyNow(next.job)) wakeWorkersIn(kv, op);
    if (FINAL_STATES.includes(next.job.state)) finished.push(next.job);
  }
  return { finished, edges: ids.length };
}

/**
 * Releases every job still waiting for `parent` (a final job) in commits of up to 40, and
 * in turn the dependents of those it cancels; then removes the parent's dependents marker,
 * checked as read (an edge added meanwhile is read and released too). Nothing to do, in
 * one read, when the marker is absent. Each commit checks the parent as read, and the
 * release stops if the parent is no longer final (retried from the DLQ meanwhile: its
 * dependents wait for its new run). It ends: once the parent is final, an insert can no
 * longer add an edge to it (its commit checks the parent as it read it). Returns false
 * when it gave up (dependents kept changing) or stopped: the marker then stays, and the
 * sweep (`releaseStranded`) tries again later.
 */
export async function releaseDependents(kv: Deno.Kv, parent: Job): Promise<boolean> {
  const queue = [parent];
  let complete = true;
  while (queue.length > 0) {
    const id = queue.shift()!.id;
    let done = false;
    for (let failures = 0; failures < 100 && !done;) {
      const marker = await dependentsMarkerGet(kv, id);
      if (marker.value === null) {
        done = true;
        break;
      }
      const current = await jobGet(kv, id);
      if (!current || !FINAL_STATES.includes(current.job.state)) break;
      const op = kv.atomic().check({ key: jobKey(id), versionstamp: current.versionstamp });
      const limit = releaseLimit(kv, RELEASE_OWN_CHECKS);
      const { finished, edges } = await addRelease(kv, op, current.job, limit);
      if (edges === 0) op.check(marker).delete(marker.key);
      if (!(await op.commit()).ok) {
        failures++; // a dependent, the parent or the marker changed meanwhile: read again
        continue;
      }
      queue.push(...finished);
      done = edges === 0;
    }
    complete &&= done;
  }
  return complete;
}

/** How many dependents markers one sweep reads at most. */
const SWEEP_BATCH = 50;

/**
 * Releases the dependents of finished jobs whose release did not finish (its process died
 * right after the finishing commit, or gave up): reads up to 50 dependents markers after
 * `cursor.after` and releases those whose job is final. Markers exist only for jobs with
 * dependents that may still wait, so the sweep reads little; the cursor goes round them
 * all over successive calls. Returns how many jobs it released dependents of.
 */
export async function releaseStranded(
  kv: Deno.Kv,
  cursor: { after: Deno.KvKey | null },
): Promise<number> {
  const ids: string[] = [];
  let last: Deno.KvKey | null = null;
  const selector = cursor.after
    ? { prefix: DEPENDENTS_PREFIX, start: [...cursor.after, 0] }
    : { prefix: DEPENDENTS_PREFIX };
  for await (const entry of kv.list(selector, { limit: SWEEP_BATCH })) {
    ids.push(entry.key[1] as string);
    last = entry.key;
  }
  cursor.after = ids.length < SWEEP_BATCH ? null : last; // the end: start over next time
  let released = 0;
  for (const entry of await jobGetMany(kv, ids)) {
    if (!FINAL_STATES.includes(entry.job.state)) continue;
    await releaseDependents(kv, entry.job);
    released++;
  }
  return released;
}

/**
 * The marker of a job's dependents (see `dependentsKey`); a worker reads it while the job
 * runs, so that a job without dependents (the marker absent) finishes without listing them.
 */
export function dependentsMarkerGet(
  kv: Deno.Kv,
  id: string,
): Promise<Deno.KvEntryMaybe<Deno.KvU64>> {
  return kv.get<Deno.KvU64>(dependentsKey(id));
}

/** Extra writes that go in the same commit as a state change (an attempt record, say). */
export interface ChangeExtras {
  attempt?: Attempt;
  /** Further mutations for the same commit. */
  more?: (op: Deno.AtomicOperation) => void;
  /** The job's dependents marker, when read ahead (else a finishing change reads it). */
  dependents?: Deno.KvEntryMaybe<Deno.KvU64>;
  /**
   * Counter changes of the whole commit, gathered to be written once per counter (the
   * caller flushes them): a −1 and a +1 of one counter are then not written at all.
   */
  sums?: CounterSums;
  /** Statistics of the whole commit, gathered for one record (see StatsGather). */
  stats?: StatsGather;
}

/** A state change added to an atomic operation, with what is left to do once it landed. */
export interface PreparedChange {
  /** Jobs this change made final (the job, dependents it cancelled): theirs are released. */
  finished: Job[];
}

/**
 * Adds one state change of a job to `op`: a check that the record is still at `before`'s
 * versionstamp, and the record, indexes, counters and extras. A change into a final state
 * also releases up to 40 of the job's dependents in the same commit (when its dependents
 * marker says it has any). Commit `op`, then call `changeLanded` when it succeeded: it
 * releases the rest, and any dependent enqueued between the read and the commit.
 */
export async function addChange(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  before: JobEntry,
  after: Job | null,
  extras: ChangeExtras = {},
): Promise<PreparedChange> {
  op.check({ key: jobKey(before.job.id), versionstamp: before.versionstamp });
  addJobChange(op, before.job, after, extras.sums);
  addStats(op, before.job, after, { attempt: extras.attempt, gather: extras.stats });
  if (extras.attempt) {
    op.set(attemptKey(extras.attempt.job_id, extras.attempt.attempt), extras.attempt);
  }
  extras.more?.(op);
  if (after && readyNow(after)) wakeWorkersIn(kv, op);
  if (!after || !finishes(before.job, after)) return { finished: [] };
  // Dependents are released by the commit that finishes the job they wait for.
  const marker = extras.dependents ?? await dependentsMarkerGet(kv, after.id);
  if (marker.value === null) return { finished: [after] };
  const { finished } = await addRelease(kv, op, after, releaseLimit(kv, CHANGE_OWN_CHECKS));
  return { finished: [after, ...finished] };
}

/**
 * Finishes a landed change: releases the dependents its commit did not (more than 40, or
 * enqueued after they were read), one read when there are none.
 */
export async function changeLanded(kv: Deno.Kv, prepared: PreparedChange): Promise<void> {
  for (const job of prepared.finished) await releaseDependents(kv, job);
}

/**
 * Commits one state change of a job: checks that the record is still at `before`'s
 * versionstamp and writes record, indexes, counters and extras together.
 * Returns null when someone else changed the job first.
 */
export async function jobCommitChange(
  kv: Deno.Kv,
  before: JobEntry,
  after: Job | null,
  extras: ChangeExtras = {},
): Promise<Deno.KvCommitResult | null> {
  const op = kv.atomic();
  const prepared = await addChange(kv, op, before, after, extras);
  const result = await op.commit();
  if (!result.ok) return null;
  await changeLanded(kv, prepared);
  return result;
}

/** How many new jobs go in one commit (KV allows at most 100 checks per commit). */
export const INSERT_BATCH = 100;

/** How many insert commits are in flight at once. */
const IN_FLIGHT = 4;

/**
 * What one commit may carry, a little under Deno KV's limits (1000 mutations, 80 KiB of
 * keys, 800 KiB of keys and values): large commands or long ids fill a commit before
 * INSERT_BATCH jobs do.
 */
const COMMIT_BUDGET = { mutations: 900, keyBytes: 60_000, bytes: 600_000 };

/** The result of inserting a batch: the ids written, and the ids that already existed. */
export interface InsertResult {
  inserted: string[];
  duplicates: string[];
}

/**
 * Inserts new jobs, each checked to be absent, in commits of up to 100 jobs (fewer when
 * they are large). A commit that fails because an id exists is split to find the
 * duplicates; the rest are written. An id repeated in `jobs` is written once and its
 * repeats reported as duplicates. With `allOrNothing`, nothing is written when any id
 * exists.
 */
export async function jobInsertMany(
  kv: Deno.Kv,
  jobs: Job[],
  options: { allOrNothing?: boolean } = {},
): Promise<InsertResult> {
  const result: InsertResult = { inserted: [], duplicates: [] };
  if (options.allOrNothing) {
    const existing = await jobGetMany(kv, jobs.map((j) => j.id));
    if (existing.length > 0) {
      result.duplicates = existing.map((e) => e.job.id);
      return result;
    }
  }
  const unique: Job[] = [];
  const seenIds = new Set<string>();
  for (const job of jobs) {
    if (seenIds.has(job.id)) result.duplicates.push(job.id);
    else unique.push(job);
    seenIds.add(job.id);
  }
  // Every batch names its queues, so batches can commit in any order; a few are kept in
  // flight so that building one overlaps writing another.
  const batches = insertBatches(unique, storeLimits(kv).checks);
  let next = 0;
  const insertOne = async (batch: Job[]) => {
    const queues = new Set(batch.map((j) => j.queue));
    if (await commitInsert(kv, batch, queues)) {
      result.inserted.push(...batch.map((j) => j.id));
      return;
    }
    for (const job of batch) {
      if (await commitInsert(kv, [job], new Set([job.queue]))) result.inserted.push(job.id);
      else result.duplicates.push(job.id);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, batches.length) }, async () => {
      while (next < batches.length) await insertOne(batches[next++]);
    }),
  );
  return result;
}

/**
 * Splits jobs into commits that stay within INSERT_BATCH, COMMIT_BUDGET and the store's
 * `maxChecks` per commit (each job checks that its id, and any unique key, is free).
 */
export function insertBatches(jobs: Job[], maxChecks: number): Job[][] {
  const batches: Job[][] = [];
  let batch: Job[] = [];
  let used = { mutations: 0, keyBytes: 0, bytes: 0, checks: 0 };
  for (const job of jobs) {
    const cost = insertCost(job);
    const full = batch.length >= INSERT_BATCH ||
      used.checks + cost.checks > maxChecks ||
      used.mutations + cost.mutations > COMMIT_BUDGET.mutations ||
      used.keyBytes + cost.keyBytes > COMMIT_BUDGET.keyBytes ||
      used.bytes + cost.bytes > COMMIT_BUDGET.bytes;
    if (full && batch.length > 0) {
      batches.push(batch);
      batch = [];
      used = { mutations: 0, keyBytes: 0, bytes: 0, checks: 0 };
    }
    batch.push(job);
    used.mutations += cost.mutations;
    used.keyBytes += cost.keyBytes;
    used.bytes += cost.bytes;
    used.checks += cost.checks;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** An upper estimate of what inserting one job adds to a commit. */
function insertCost(
  job: Job,
): { mutations: number; keyBytes: number; bytes: number; checks: number } {
  const keys = [jobKey(job.id), queueKey(job.queue), ...jobIndexKeys(job), ...jobCounterKeys(job)];
  const unique = heldUniqueKey(job);
  if (unique) keys.push(unique);
  // The job key counts twice: once checked, once written (and so does a unique key).
  const keyBytes = keys.reduce((n, k) => n + keySize(k), keySize(keys[0])) +
    (unique ? keySize(unique) : 0);
  // Values: the record (strings at up to 2 bytes a char), the ids held by the index keys.
  const valueBytes = 2 * JSON.stringify(job).length + 64 + keys.length * (job.id.length + 16);
  return { mutations: keys.length, keyBytes, bytes: keyBytes + valueBytes, checks: unique ? 2 : 1 };
}

/** The encoded size of a key, rounded up: strings are tagged and terminated, numbers 9 bytes. */
function keySize(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (typeof part === "string") n += 2 + 2 * part.length;
    else if (part instanceof Uint8Array) n += 2 + 2 * part.length;
    else n += 10;
  }
  return n;
}

async function commitInsert(kv: Deno.Kv, jobs: Job[], queues: Set<string>): Promise<boolean> {
  const op = kv.atomic();
  if (jobs.some(readyNow)) wakeWorkersIn(kv, op);
  const sums = new CounterSums();
  for (const job of jobs) {
    op.check({ key: jobKey(job.id), versionstamp: null });
    addJobChange(op, null, job, sums);
  }
  sums.flush(op);
  for (const q of queues) op.set(queueKey(q), null);
  return (await op.commit()).ok;
}

/** Ids in one state (or all), newest first, after an optional cursor id. */
export async function jobListIds(
  kv: Deno.Kv,
  options: { state?: JobState; limit?: number; reverse?: boolean },
): Promise<string[]> {
  const prefix = options.state ? byStatePrefix(options.state) : BY_SEQ_PREFIX;
  const ids: string[] = [];
  for await (
    const entry of kv.list<string>({ prefix }, {
      reverse: options.reverse ?? true,
      limit: options.limit,
      batchSize: Math.min(options.limit ?? 500, 500),
    })
  ) {
    ids.push(entry.value);
  }
  return ids;
}

/** Jobs in one state (or all), newest first. */
export async function jobList(
  kv: Deno.Kv,
  options: { state?: JobState; limit?: number; reverse?: boolean },
): Promise<Job[]> {
  const ids = await jobListIds(kv, options);
  return (await jobGetMany(kv, ids)).map((e) => e.job);
}

/** Every attempt of a job, first to last. */
export async function attemptList(kv: Deno.Kv, id: string): Promise<Attempt[]> {
  const out: Attempt[] = [];
  for await (const entry of kv.list<Attempt>({ prefix: attemptPrefix(id) })) out.push(entry.value);
  return out;
}

function keyText(key: Deno.KvKey): string {
  return JSON.stringify(key, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
}

/** How inserting one job ended. */
export type InsertOneResult =
  | { kind: "inserted"; job: Job }
  | { kind: "duplicate_id"; existing: Job }
  | { kind: "unique_taken"; key: string; holder: string }
  | { kind: "missing_dependency"; id: string };

/**
 * Inserts one job that may have dependencies or a unique key, in one commit checked against
 * the dependencies as read: finished ones are dropped from `waiting_on` (or cancel the job,
 * when one did not complete and the job is not `after_any`), unfinished ones get an edge.
 */
export async function jobInsertOne(kv: Deno.Kv, job: Job): Promise<InsertOneResult> {
  for (let tries = 0; tries < 20; tries++) {
    const parents = job.after.length > 0 ? await jobGetMany(kv, job.after) : [];
    if (parents.length < job.after.length) {
      const found = new Set(parents.map((p) => p.job.id));
      return { kind: "missing_dependency", id: job.after.find((id) => !found.has(id))! };
    }
    // Dependencies that already finished are released now, by the same rule as later ones.
    let next: Job = { ...job, waiting_on: parents.map((p) => p.job.id) };
    for (const parent of parents) {
      if (!FINAL_STATES.includes(parent.job.state)) continue;
      const released = releaseDependency(next, parent.job, new Date(job.created_at));
      if (released.ok) next = released.job;
    }
    const op = kv.atomic().check({ key: jobKey(job.id), versionstamp: null });
    for (const parent of parentsToCheck(kv, next, parents)) {
      op.check({ key: jobKey(parent.job.id), versionstamp: parent.versionstamp });
    }
    addJobChange(op, null, next);
    for (const parent of next.waiting_on) {
      op.set(depKey(parent, job.id), null).sum(dependentsKey(parent), 1n);
    }
    op.set(queueKey(job.queue), null);
    if (readyNow(next)) wakeWorkersIn(kv, op);
    if ((await op.commit()).ok) return { kind: "inserted", job: next };
    const existing = await jobGet(kv, job.id);
    if (existing) return { kind: "duplicate_id", existing: existing.job };
    const unique = heldUniqueKey(next);
    if (unique) {
      const holder = await kv.get<string>(unique);
      if (holder.value !== null) {
        return { kind: "unique_taken", key: next.unique_key!, holder: holder.value };
      }
    }
    // A dependency changed between the read and the commit: read again.
  }
  throw new Error(`Could not enqueue "${job.id}": its dependencies kept changing; try again`);
}

/**
 * The dependencies an insert checks as read: all of them when the store allows the checks
 * (the job's own, its unique key's, one per dependency). On a KV Connect store (10 checks)
 * a job with more dependencies checks the unfinished ones first, as many as fit. One it
 * could not check that finishes before the insert lands is caught by the sweep: the
 * insert's edge and dependents marker name a final job, and releaseStranded releases it.
 */
function parentsToCheck(kv: Deno.Kv, job: Job, parents: JobEntry[]): JobEntry[] {
  const room = storeLimits(kv).checks - 1 - (heldUniqueKey(job) ? 1 : 0);
  if (parents.length <= room) return parents;
  const open = parents.filter((p) => !FINAL_STATES.includes(p.job.state));
  const done = parents.filter((p) => FINAL_STATES.includes(p.job.state));
  return [...open, ...done].slice(0, room);
}

/** The id of the unfinished job holding a unique key, or null when the key is free. */
export async function uniqueHolderGet(kv: Deno.Kv, key: string): Promise<string | null> {
  return (await kv.get<string>(uniqueKey(key))).value;
}

/**
 * Jobs in one state (or all), newest first, that pass `keep`, until `limit` are found:
 * reads the state's index (or every job) in pages. For filters; plain listings use jobList.
 */
export async function jobScan(
  kv: Deno.Kv,
  options: { state?: JobState; limit: number; keep: (job: Job) => boolean },
): Promise<Job[]> {
  const prefix = options.state ? byStatePrefix(options.state) : BY_SEQ_PREFIX;
  const found: Job[] = [];
  let batch: string[] = [];
  const flush = async () => {
    for (const e of await jobGetMany(kv, batch)) if (options.keep(e.job)) found.push(e.job);
    batch = [];
  };
  for await (const entry of kv.list<string>({ prefix }, { reverse: true, batchSize: 500 })) {
    batch.push(entry.value);
    if (batch.length === 100) await flush();
    if (found.length >= options.limit) break;
  }
  await flush();
  return found.slice(0, options.limit);
}
