/**
 * Opening the KV store at its path, with store faults turned into one clear line.
 * @module
 */
import { OperationError } from "../errors.ts";
import { dirname, type Paths } from "../paths.ts";
import { busyTimeoutMs, busyTolerant, isBusyError } from "./busy.ts";

/** How a store is opened. */
export interface OpenOptions {
  /**
   * Wait for ever when another process holds the file locked (workers), instead of giving
   * up after `$QUEUECTL_BUSY_TIMEOUT_MS` (commands).
   */
  waitForLock?: boolean;
}

/** Opens (creating when needed) the KV file; the data dir is made 0700, the file 0600. */
export async function openStore(paths: Paths, options: OpenOptions = {}): Promise<Deno.Kv> {
  const where = paths.dbPath;
  try {
    await Deno.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
    await Deno.mkdir(dirname(paths.dbPath), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new OperationError(`Cannot create data directory for "${where}": ${reason(error)}`);
  }
  let kv: Deno.Kv | null = null;
  // Two processes creating a new store at once: one finds it locked while the other sets
  // up its tables. Opening is retried for as long as any other call would wait.
  const deadline = Date.now() + (options.waitForLock ? Infinity : busyTimeoutMs());
  for (let wait = 1; kv === null; wait = Math.min(wait * 2, 100)) {
    try {
      kv = await Deno.openKv(where);
    } catch (error) {
      if (isBusyError(error) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
        continue;
      }
      throw new OperationError(`Cannot open store "${where}": ${await openReason(error, where)}`);
    }
  }
  try {
    await Deno.chmod(where, 0o600);
  } catch {
    // Not fatal: the file may belong to someone else or the system may not support modes.
  }
  return busyTolerant(kv, {
    path: where,
    timeoutMs: options.waitForLock ? Infinity : undefined,
  });
}

/** Reports whether the store file exists (so read-only checks need not create it). */
export async function storeExists(paths: Paths): Promise<boolean> {
  try {
    await Deno.stat(paths.dbPath);
    return true;
  } catch {
    return false;
  }
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a directory";
  if (error instanceof Deno.errors.AlreadyExists) return "a file is in the way";
  const message = error instanceof Error ? error.message : String(error);
  if (/not a database|malformed|file is encrypted/i.test(message)) {
    return "file is not a valid store (corrupt?)";
  }
  if (/locked|busy/i.test(message)) return "store is locked by another process";
  if (/readonly|read-only/i.test(message)) return "the file or its directory is read-only";
  if (/no space|disk is full/i.test(message)) return "the disk is full";
  return message.split("\n")[0];
}

/** Why opening failed; SQLite's "unable to open" is narrowed down by looking at the path. */
async function openReason(error: unknown, path: string): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  if (!/unable to open database/i.test(message)) return reason(error);
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return "it is a directory, not a file";
  } catch {
    // no file yet: it must be created in the directory
  }
  try {
    const probe = await Deno.makeTempFile({ dir: dirname(path), prefix: ".queuectl-probe-" });
    await Deno.remove(probe);
  } catch (probeError) {
    if (probeError instanceof Deno.errors.PermissionDenied) {
      return `directory "${dirname(path)}" is not writable`;
    }
  }
  return reason(error);
}
