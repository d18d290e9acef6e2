/**
 * Attempt output kept in a KV Connect store, so that `logs` shows a run from any host: a
 * sink the worker feeds while the attempt runs (chunks of up to 60 KiB, written in order,
 * at most `capBytes` per attempt), and the reads of `logs`.
 * @module
 */
import { logChunkKey, logStreamPrefix } from "./keys.ts";

/** Bytes of one chunk: under a KV value's 64 KiB. */
export const LOG_CHUNK_BYTES = 60 * 1024;

/** How often buffered output is written while an attempt runs. */
const FLUSH_MS = 200;

/** Feeds one attempt's output to the store. */
export interface LogChunkSink {
  /** Takes bytes of one stream (copied: the caller may reuse its buffer). */
  push(stream: "out" | "err", bytes: Uint8Array): void;
  /** Writes what is buffered and stops; resolves with the first write error, if any. */
  close(): Promise<string | null>;
}

/**
 * A sink writing one attempt's output to the store: buffered, written every 200 ms or per
 * full chunk, in order, until `capBytes` (both streams) are kept; then one line saying
 * where the rest is (the log file on `host`).
 */
export function logChunkSink(
  kv: Deno.Kv,
  options: { jobId: string; attempt: number; capBytes: number; host: string },
): LogChunkSink {
  const streams = {
    out: { seq: 0, parts: [] as Uint8Array[], size: 0 },
    err: { seq: 0, parts: [] as Uint8Array[], size: 0 },
  };
  let kept = 0;
  let capped = false;
  let error: string | null = null;
  let writing: Promise<void> = Promise.resolve();
  const write = (stream: "out" | "err", bytes: Uint8Array) => {
    const key = logChunkKey(options.jobId, options.attempt, stream, streams[stream].seq++);
    writing = writing.then(async () => {
      if (error !== null) return;
      try {
        await kv.set(key, bytes);
      } catch (e) {
        error = e instanceof Error ? e.message.split("\n")[0] : String(e);
      }
    });
  };
  const flush = (stream: "out" | "err") => {
    const s = streams[stream];
    if (s.size === 0) return;
    const all = new Uint8Array(s.size);
    let at = 0;
    for (const part of s.parts) {
      all.set(part, at);
      at += part.length;
    }
    s.parts = [];
    s.size = 0;
    for (let i = 0; i < all.length; i += LOG_CHUNK_BYTES) {
      write(stream, all.slice(i, i + LOG_CHUNK_BYTES));
    }
  };
  const timer = setInterval(() => {
    flush("out");
    flush("err");
  }, FLUSH_MS);
  return {
    push(stream, bytes) {
      if (capped || bytes.length === 0) return;
      const room = options.capBytes - kept;
      const take = bytes.subarray(0, Math.max(0, room));
      const s = streams[stream];
      if (take.length > 0) {
        s.parts.push(take.slice());
        s.size += take.length;
        kept += take.length;
      }
      if (take.length < bytes.length) {
        capped = true;
        flush(stream);
        const note =
          `\n[queuectl: output beyond ${options.capBytes} bytes is in the log file on ${options.host}]\n`;
        write(stream, new TextEncoder().encode(note));
      } else if (s.size >= LOG_CHUNK_BYTES) flush(stream);
    },
    async close() {
      clearInterval(timer);
      flush("out");
      flush("err");
      await writing;
      return error;
    },
  };
}

/** The chunks of one attempt's stream after `afterSeq` (-1: from the start), in order. */
export async function logChunksRead(
  kv: Deno.Kv,
  options: { jobId: string; attempt: number; stream: "out" | "err"; afterSeq: number },
): Promise<{ seq: number; bytes: Uint8Array }[]> {
  const prefix = logStreamPrefix(options.jobId, options.attempt, options.stream);
  const out: { seq: number; bytes: Uint8Array }[] = [];
  const selector = options.afterSeq < 0
    ? { prefix }
    : { prefix, start: [...prefix, options.afterSeq + 1] };
  for await (const entry of kv.list<Uint8Array>(selector, { batchSize: 100 })) {
    out.push({ seq: entry.key[4] as number, bytes: entry.value });
  }
  return out;
}
