/**
 * The store's identity: a store id recorded when the store is first created, and the file
 * a process opened (device and inode), so that a worker notices when the file at its path
 * is another one, or none (its data dir was removed or replaced), instead of running on
 * against a deleted file that no command can see. File checks apply to local stores only.
 * @module
 */
import { remoteStore } from "../paths.ts";
import { STORE_ID_KEY } from "./keys.ts";

/** What identifies a store: its id, and when it was created. */
export interface StoreId {
  id: string;
  created_at: string;
}

/** The store's id, or null for a store created before ids were recorded. */
export async function storeIdGet(kv: Deno.Kv): Promise<StoreId | null> {
  return (await kv.get<StoreId>(STORE_ID_KEY)).value;
}

/** Records a store id unless the store has one (check-and-set: two creators agree). */
export async function storeIdEnsure(kv: Deno.Kv, now = new Date()): Promise<StoreId> {
  while (true) {
    const entry = await kv.get<StoreId>(STORE_ID_KEY);
    if (entry.value) return entry.value;
    const id: StoreId = { id: crypto.randomUUID(), created_at: now.toISOString() };
    const result = await kv.atomic().check(entry).set(STORE_ID_KEY, id).commit();
    if (result.ok) return id;
  }
}

/** Which file a path named when it was opened. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The file at a local store's path now; null for a KV Connect store or one that cannot be told. */
export async function storeFileIdentity(dbPath: string): Promise<FileIdentity | null> {
  if (remoteStore(dbPath)) return null;
  try {
    const info = await Deno.stat(dbPath);
    return info.dev !== null && info.ino !== null ? { dev: info.dev, ino: info.ino } : null;
  } catch {
    return null;
  }
}

/** Whether the file at a path is still the one opened: the same, gone, or another one. */
export type FileCheck =
  | { kind: "same" }
  | { kind: "removed" }
  | { kind: "replaced" };

/** Checks the file at `dbPath` against the one opened (anything unclear counts as the same). */
export async function storeFileCheck(dbPath: string, opened: FileIdentity): Promise<FileCheck> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dbPath);
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? { kind: "removed" } : { kind: "same" };
  }
  if (info.dev === null || info.ino === null) return { kind: "same" };
  return info.dev === opened.dev && info.ino === opened.ino
    ? { kind: "same" }
    : { kind: "replaced" };
}
