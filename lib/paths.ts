/**
 * Where queuectl keeps its data: pure functions over an environment record. The store is
 * a KV file, or a KV Connect server named by an http(s):// URL.
 * @module
 */
import { UsageError } from "./errors.ts";

/** The environment variables queuectl reads. */
export const ENV_VARS = [
  "QUEUECTL_HOME",
  "QUEUECTL_DB",
  "XDG_DATA_HOME",
  "HOME",
  "QUEUECTL_HOSTNAME",
  "QUEUECTL_BUSY_TIMEOUT_MS",
  "NO_COLOR",
  "CI",
] as const;

/** The subset of the environment that decides paths. */
export type PathEnv = Partial<
  Record<"QUEUECTL_HOME" | "QUEUECTL_DB" | "XDG_DATA_HOME" | "HOME", string>
>;

/** The environment variable holding the access token of a KV Connect store. */
export const TOKEN_ENV = "DENO_KV_ACCESS_TOKEN";

/** Where every file lives. */
export interface Paths {
  dataDir: string;
  /** The KV file, or the http(s):// URL of a KV Connect store (see remoteStore). */
  dbPath: string;
  logDir: string;
}

/** `$QUEUECTL_HOME`, else `$XDG_DATA_HOME/queuectl`, else `~/.local/share/queuectl`. */
export function dataDir(env: PathEnv): string {
  if (env.QUEUECTL_HOME) return env.QUEUECTL_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, "queuectl");
  if (env.HOME) return join(env.HOME, ".local", "share", "queuectl");
  return join(".", ".queuectl");
}

/**
 * All paths, with `dbOverride` (the global `--db`), else `$QUEUECTL_DB`, replacing the KV
 * file. A store that looks like a URL but is not a valid http(s) one is a UsageError.
 */
export function resolvePaths(env: PathEnv, dbOverride?: string): Paths {
  const dir = dataDir(env);
  const db = dbOverride ?? (env.QUEUECTL_DB || undefined);
  if (db !== undefined) remoteStore(db);
  return {
    dataDir: dir,
    dbPath: db ?? join(dir, "queue.db"),
    logDir: join(dir, "logs"),
  };
}

/**
 * The paths with every relative one made absolute against `cwd` (a KV Connect URL is left
 * as it is): a worker runs in another directory, so a relative data dir or `--db` would
 * name a different store there.
 */
export function absolutePaths(paths: Paths, cwd: string): Paths {
  const abs = (path: string) => absolutePath(path, cwd);
  return {
    dataDir: abs(paths.dataDir),
    dbPath: remoteStore(paths.dbPath) ? paths.dbPath : abs(paths.dbPath),
    logDir: abs(paths.logDir),
  };
}

/** `path` made absolute against `cwd`, without `.` and `..` segments. */
export function absolutePath(path: string, cwd: string): string {
  return normalize(path.startsWith("/") ? path : join(cwd, path));
}

/** An absolute path without `.` and `..` segments or a trailing slash. */
function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/**
 * The URL of a KV Connect store, or null when `dbPath` is a file. Throws a UsageError for
 * something that looks like a URL (`scheme:` and `//`) but is not a valid http(s) one.
 */
export function remoteStore(dbPath: string): URL | null {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dbPath) ?? /^(https?):/i.exec(dbPath);
  if (!scheme) return null;
  const expected = "expected a file path or an http:// or https:// URL";
  if (!/^https?$/i.test(scheme[1]) || !/^[a-z]+:\/\//i.test(dbPath)) {
    throw new UsageError(`Invalid store "${storeLabel(dbPath)}": ${expected}`);
  }
  let url: URL;
  try {
    url = new URL(dbPath);
  } catch {
    throw new UsageError(`Invalid store "${storeLabel(dbPath)}": ${expected}`);
  }
  if (url.hostname === "") {
    throw new UsageError(`Invalid store "${storeLabel(dbPath)}": the URL has no host`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new UsageError(
      `Invalid store "${storeLabel(dbPath)}": put the access token in ${TOKEN_ENV}, not in the URL`,
    );
  }
  return url;
}

/**
 * How a store is named to people: the file path, or the URL without user name, password,
 * query or fragment (credentials never belong on a screen or in a log).
 */
export function storeLabel(dbPath: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(dbPath)) return dbPath;
  try {
    const url = new URL(dbPath);
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    // Not a URL after all: cut anything that could be a user name, password or query.
    return dbPath.replace(/\/\/[^/@]*@/, "//").replace(/[?#].*$/, "");
  }
}

/**
 * The marker a worker writes while it finds the store unavailable (beside the worker logs,
 * on this host), so that `status` can say so when the store cannot be written.
 */
export function workerOutageFile(dataDir: string, workerId: string): string {
  return join(dataDir, "workers", `${safeName(workerId)}.outage`);
}

/** Log file of one attempt of a job; `stream` is `out` or `err`. */
export function attemptLogPath(
  logDir: string,
  jobId: string,
  attempt: number,
  stream: "out" | "err",
): string {
  return join(logDir, safeName(jobId), `${attempt}.${stream}`);
}

/** The directory holding a job's logs. */
export function jobLogDir(logDir: string, jobId: string): string {
  return join(logDir, safeName(jobId));
}

/**
 * A job id as one path segment. Valid ids may hold ":", which is percent-encoded; the
 * encoding is one-to-one, so two ids never share a log directory ("a:b" is not "a_b").
 */
function safeName(id: string): string {
  const name = encodeURIComponent(id);
  return name === "." || name === ".." ? name.replaceAll(".", "%2E") : name;
}

/** Unix socket paths are limited to 108 bytes on Linux and 104 on macOS. */
const MAX_SOCKET_PATH_BYTES = 100;

/**
 * The socket an idle worker of the store at `dbPath` listens on for wake-ups (beside the
 * store, so only workers of that store are woken), or null where it can have none: a path
 * too long for a unix socket, or a relative store (see wakeDir). Such a worker only polls.
 */
export function wakeSocketPath(dbPath: string, workerId: string): string | null {
  const dir = wakeDir(dbPath);
  if (dir === null) return null;
  const path = join(dir, `${safeName(workerId)}.sock`);
  return new TextEncoder().encode(path).length <= MAX_SOCKET_PATH_BYTES ? path : null;
}

/**
 * The directory of the wake-up sockets of the store at `dbPath`; null for a relative store
 * path, since Deno names (and grants) a unix socket only by its absolute path.
 */
export function wakeDir(dbPath: string): string | null {
  return dbPath.startsWith("/") ? `${dbPath}.wake` : null;
}

/** The directory part of a path. */
export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : path.slice(0, i);
}

function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}
