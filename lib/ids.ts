/**
 * New job ids and enqueue sequence numbers.
 * @module
 */

/** A new random job id: 12 hex digits. */
export function newJobId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
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
