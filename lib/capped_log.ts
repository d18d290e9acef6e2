/**
 * A log file with a size cap that keeps the head and the tail of what was written,
 * and a small in-memory tail kept for the job record.
 * @module
 */

/** Bytes of output kept with the attempt record in KV. */
export const KV_TAIL_BYTES = 16 * 1024;

/**
 * A ring buffer keeping the last `size` bytes written to it (allocated at the first
 * bytes: most jobs print nothing).
 */
export class TailBuffer {
  #size: number;
  #buf: Uint8Array = new Uint8Array(0);
  #end = 0;
  #full = false;
  constructor(size: number) {
    this.#size = size;
  }
  /** Appends bytes, dropping the oldest beyond the size. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#buf.length === 0) this.#buf = new Uint8Array(this.#size);
    const size = this.#buf.length;
    if (chunk.length >= size) {
      this.#buf.set(chunk.subarray(chunk.length - size));
      this.#end = 0;
      this.#full = true;
      return;
    }
    const first = Math.min(chunk.length, size - this.#end);
    this.#buf.set(chunk.subarray(0, first), this.#end);
    this.#buf.set(chunk.subarray(first), 0);
    if (this.#end + chunk.length >= size) this.#full = true;
    this.#end = (this.#end + chunk.length) % size;
  }
  /** Bytes of memory this buffer holds (0 until the first bytes arrive). */
  get heldBytes(): number {
    return this.#buf.length;
  }
  /** The kept bytes, oldest first. */
  bytes(): Uint8Array {
    if (!this.#full) return this.#buf.slice(0, this.#end);
    const out = new Uint8Array(this.#buf.length);
    out.set(this.#buf.subarray(this.#end));
    out.set(this.#buf.subarray(0, this.#end), this.#buf.length - this.#end);
    return out;
  }
}

/** The most bytes of a log's tail held in memory until the log is closed. */
export const MAX_MEMORY_TAIL_BYTES = 1024 * 1024;

/**
 * Writes a stream to a file of at most `capBytes` plus one marker line: the head is
 * written as it comes, the tail (half the cap, at most MAX_MEMORY_TAIL_BYTES, so memory
 * stays bounded whatever the cap) is kept in memory and written at the end after a
 * marker line saying how much was left out. The file is created when the first byte
 * arrives. A write error (disk full) is kept in `error`; the stream is still read to its
 * end so the job never blocks on a full pipe.
 */
export class CappedLog {
  #path: string;
  #headCap: number;
  #tailCap: number;
  #file: Deno.FsFile | null = null;
  #written = 0;
  #tail: TailBuffer | null = null;
  #overflow = 0;
  /** The first write error, after which output is still read but not written. */
  error: Error | null = null;

  constructor(path: string, capBytes: number) {
    this.#path = path;
    this.#tailCap = Math.min(Math.floor(capBytes / 2), MAX_MEMORY_TAIL_BYTES);
    this.#headCap = capBytes - this.#tailCap;
  }

  /** Bytes taken so far (written, kept or dropped). */
  get bytesSeen(): number {
    return this.#written + this.#overflow;
  }

  /** Bytes of the tail held in memory now (at most MAX_MEMORY_TAIL_BYTES). */
  get tailBytesHeld(): number {
    return this.#tail?.heldBytes ?? 0;
  }

  /** Takes the next chunk of output. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.error) return;
    try {
      const room = this.#headCap - this.#written;
      if (room > 0) {
        const part = chunk.subarray(0, room);
        await this.#writeAll(part);
        this.#written += part.length;
        chunk = chunk.subarray(part.length);
      }
      if (chunk.length > 0) {
        this.#tail ??= new TailBuffer(this.#tailCap);
        this.#tail.push(chunk);
        this.#overflow += chunk.length;
      }
    } catch (error) {
      this.error = error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Writes the kept tail (after a marker saying how much was left out) and closes. */
  async close(): Promise<void> {
    try {
      if (this.#tail && !this.error) {
        const tail = this.#tail.bytes();
        const omitted = this.#overflow - tail.length;
        if (omitted > 0) {
          await this.#writeAll(
            new TextEncoder().encode(`\n[queuectl: ${omitted} bytes of output omitted]\n`),
          );
        }
        await this.#writeAll(tail);
      }
    } catch (error) {
      this.error ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#file?.close();
      this.#file = null;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    if (!this.#file) {
      await Deno.mkdir(this.#path.slice(0, this.#path.lastIndexOf("/")), {
        recursive: true,
        mode: 0o700,
      });
    }
    this.#file ??= await Deno.open(this.#path, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    let offset = 0;
    while (offset < bytes.length) offset += await this.#file.write(bytes.subarray(offset));
  }
}

/**
 * The last `maxBytes` of a log file as text, or null when it cannot be read (removed, or
 * written on another host).
 */
export async function logTail(path: string, maxBytes = KV_TAIL_BYTES): Promise<string | null> {
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(path, { read: true });
    const size = (await file.stat()).size;
    const start = Math.max(0, size - maxBytes);
    await file.seek(start, Deno.SeekMode.Start);
    const bytes = new Uint8Array(size - start);
    let at = 0;
    while (at < bytes.length) {
      const n = await file.read(bytes.subarray(at));
      if (n === null) break;
      at += n;
    }
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, at));
  } catch {
    return null;
  } finally {
    file?.close();
  }
}
