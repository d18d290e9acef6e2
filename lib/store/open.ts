/**
 * Opening the KV store (a file, or a KV Connect server at a URL), with store faults turned
 * into one clear line.
 * @module
 */
import { OperationError, permissionReason, UsageError } from "../errors.ts";
import { dirname, type Paths, remoteStore, storeLabel, TOKEN_ENV } from "../paths.ts";
import { busyTimeoutMs, busyTolerant, isBusyError, storeError } from "./busy.ts";
import { storeIdEnsure } from "./identity.ts";

/** How a store is opened. */
export interface OpenOptions {
  /**
   * Wait for ever when another process holds the file locked (workers), instead of giving
   * up after `$QUEUECTL_BUSY_TIMEOUT_MS` (commands).
   */
  waitForLock?: boolean;
  /**
   * Told (a worker logs it) when opening or a call waits for an unreachable KV Connect
   * store, and when it answers again (see GuardOptions.onWait).
   */
  onWait?: (message: string) => void;
}

/**
 * Opens the store: a KV Connect server when the store is a URL, else the KV file (created
 * when needed; the data dir is made 0700, the file 0600).
 */
export async function openStore(paths: Paths, options: OpenOptions = {}): Promise<Deno.Kv> {
  const url = remoteStore(paths.dbPath);
  if (url) return await openRemote(url, paths.dbPath, options);
  const where = paths.dbPath;
  try {
    await Deno.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
    await Deno.mkdir(dirname(paths.dbPath), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new OperationError(`Cannot create data directory for "${where}": ${reason(error)}`);
  }
  const existed = await storeExists(paths);
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
  const guarded = busyTolerant(kv, {
    path: where,
    timeoutMs: options.waitForLock ? Infinity : undefined,
  });
  if (!existed) {
    try {
      await storeIdEnsure(guarded); // a new store records its identity
    } catch (error) {
      guarded.close();
      throw storeError(error, where);
    }
  }
  return guarded;
}

/** How long opening a KV Connect store may take before it counts as unreachable. */
export const REMOTE_OPEN_TIMEOUT_MS = 10_000;

/**
 * Opens a KV Connect store with the token in `$DENO_KV_ACCESS_TOKEN`. Deno's client retries
 * an unreachable server for ever, so a command gives up after REMOTE_OPEN_TIMEOUT_MS; a
 * worker keeps trying. A refused token or a URL that is not a KV Connect endpoint fails.
 */
async function openRemote(url: URL, dbPath: string, options: OpenOptions): Promise<Deno.Kv> {
  const label = storeLabel(dbPath);
  let token: string | undefined;
  try {
    token = Deno.env.get(TOKEN_ENV);
  } catch {
    token = undefined;
  }
  if (!token) {
    throw new UsageError(`Store "${label}" is a KV Connect URL: set ${TOKEN_ENV} to its token`);
  }
  for (let wait = 1000;; wait = Math.min(wait * 2, 30_000)) {
    const opening = Deno.openKv(url.href);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), REMOTE_OPEN_TIMEOUT_MS);
    });
    let kv: Deno.Kv | "timeout";
    try {
      kv = await Promise.race([opening, timeout]);
    } catch (error) {
      throw new OperationError(`Cannot open store "${label}": ${remoteReason(error)}`);
    } finally {
      clearTimeout(timer);
    }
    if (kv !== "timeout") {
      return busyTolerant(kv, {
        path: label,
        remote: true,
        timeoutMs: options.waitForLock ? Infinity : undefined,
        onWait: options.onWait,
      });
    }
    // The abandoned attempt may still connect later: close what it opens.
    opening.then((late) => late.close(), () => {});
    const seconds = REMOTE_OPEN_TIMEOUT_MS / 1000;
    if (!options.waitForLock) {
      throw new OperationError(`Cannot reach store "${label}": no answer within ${seconds}s`);
    }
    options.onWait?.(`store "${label}" did not answer within ${seconds}s; retrying`);
    await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
  }
}

/** Why a KV Connect store could not be opened, in a few words. */
function remoteReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const status = /responded with status ((\d+)[^:]*)/.exec(message);
  if (status && (status[2] === "401" || status[2] === "403")) {
    return `the server refused the access token in ${TOKEN_ENV} (${status[1]})`;
  }
  if (status) return `not a KV Connect endpoint (${status[0]})`;
  if (/metadata|json|version|endpoint/i.test(message)) {
    return `not a KV Connect endpoint (${message.split("\n")[0].replace(/^.*?: /, "")})`;
  }
  const first = message.split("\n")[0];
  if (/failed to connect|error sending request|dns error|tcp connect/i.test(first)) {
    const cause = /: ([^:]+?)(?: \(os error \d+\))?\)?$/.exec(first);
    return `cannot reach the server${cause ? ` (${cause[1].toLowerCase()})` : ""}`;
  }
  return first;
}

/**
 * Reports whether a local store is plainly not there yet (no such file, in a path that
 * could hold one): false for a KV Connect store, an existing file, and a path that cannot
 * be read or made (opening it then says why).
 */
export async function storeMissing(paths: Paths): Promise<boolean> {
  if (remoteStore(paths.dbPath)) return false;
  try {
    await Deno.stat(paths.dbPath);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}

/** Reports whether the store file exists (so read-only checks need not create it). */
export async function storeExists(paths: Paths): Promise<boolean> {
  if (remoteStore(paths.dbPath)) return true;
  try {
    await Deno.stat(paths.dbPath);
    return true;
  } catch {
    return false;
  }
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  const denied = permissionReason(error);
  if (denied) return denied;
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
