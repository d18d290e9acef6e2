/**
 * What one store allows in a commit and a read: a KV file (Deno's SQLite backend) or a KV
 * Connect server, whose protocol allows far fewer checks per atomic write. Commits that
 * grow with their input size themselves from these numbers.
 * @module
 */

/** Limits of one store; commits stay within them. */
export interface StoreLimits {
  /** Checks in one atomic write. */
  checks: number;
  /** Mutations in one atomic write. */
  mutations: number;
  /** Bytes of keys and values in one atomic write. */
  commitBytes: number;
  /** Keys in one `getMany` (ranges in one read). */
  readRanges: number;
  /** Bytes of one value. */
  valueBytes: number;
}

/** A local KV file: Deno's own limits. */
export const FILE_LIMITS: StoreLimits = {
  checks: 100,
  mutations: 1000,
  commitBytes: 800 * 1024,
  readRanges: 10,
  valueBytes: 64 * 1024,
};

/** A KV Connect server (denokv, Deno Deploy): at most 10 checks per atomic write. */
export const KV_CONNECT_LIMITS: StoreLimits = { ...FILE_LIMITS, checks: 10 };

const kvConnectHandles = new WeakSet<Deno.Kv>();

/** Marks a store handle as a KV Connect one (done once, where it is opened). */
export function markKvConnect(kv: Deno.Kv): Deno.Kv {
  kvConnectHandles.add(kv);
  return kv;
}

/** Reports whether `kv` is a KV Connect store (else a KV file). */
export function isKvConnect(kv: Deno.Kv): boolean {
  return kvConnectHandles.has(kv);
}

/** The limits of the store behind `kv`. */
export function storeLimits(kv: Deno.Kv): StoreLimits {
  return kvConnectHandles.has(kv) ? KV_CONNECT_LIMITS : FILE_LIMITS;
}
