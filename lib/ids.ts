/**
 * New job ids and enqueue sequence numbers.
 * @module
 */

/**
 * A new job id: the time in base 36 (8 characters, so ids sort by creation and inserts land
 * together in the store's B-tree) and 8 random base-36 characters (about 41 bits, so two
 * ids made in the same millisecond do not collide).
 */
export function newJobId(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  const tail = (random[0].toString(36) + random[1].toString(36)).padStart(8, "0").slice(-8);
  return now.toString(36).padStart(8, "0") + tail;
}

let lastSeq = 0;

/**
 * The next enqueue sequence number: microseconds since the epoch, strictly increasing in
 * this process (so a batch keeps its order) and close to time order across processes.
 */
export function nextSeq(nowMs: number): number {
  lastSeq = Math.max(lastSeq + 1, nowMs * 1000);
  return lastSeq;
}
