/**
 * Opening the KV store at its path, with store faults turned into one clear line.
 * @module
 */
import { OperationError } from "../errors.ts";
import { dirname, type Paths } from "../paths.ts";
import { busyTolerant } from "./busy.ts";

/** Opens (creating when needed) the KV file; the data dir is made 0700, the file 0600. */
export async function openStore(paths: Paths): Promise<Deno.Kv> {
  const where = paths.dbPath;
  try {
    await Deno.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
    await Deno.mkdir(dirname(paths.dbPath), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new OperationError(`Cannot create data directory for "${where}": ${reason(error)}`);
  }
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(where);
  } catch (error) {
    throw new OperationError(`Cannot open store "${where}": ${reason(error)}`);
  }
  try {
    await Deno.chmod(where, 0o600);
  } catch {
    // Not fatal: the file may belong to someone else or the system may not support modes.
  }
  return busyTolerant(kv);
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
  const message = error instanceof Error ? error.message : String(error);
  if (/not a database|malformed/i.test(message)) return "file is not a valid store (corrupt?)";
  if (/locked|busy/i.test(message)) return "store is locked by another process";
  return message.split("\n")[0];
}
