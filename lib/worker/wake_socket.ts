/**
 * Wake-ups on one host: an idle worker listens on a unix socket beside the store, and
 * `enqueue` connects to each such socket after its commit, so workers claim the new job
 * at once instead of at their next poll. Best effort: polling stays the guarantee (another
 * host, a system without unix sockets, a store with no socket path (see wakeSocketPath), a
 * process without the permission: workers get `--allow-net=unix:<their socket>`, the CLI
 * `--allow-net`).
 * @module
 */
import { dirname, wakeDir } from "../paths.ts";

/** How many workers one enqueue wakes at most (they are poked in parallel). */
const MAX_POKES = 64;

/**
 * Whether this process may use the socket at `path` (read, write and net on it): asked
 * first, so that a process without the permission (`deno install` without `--allow-net`,
 * say) never prompts. (Deno's query throws for a relative socket path: not usable either.)
 */
function mayUse(path: string): boolean {
  const wanted: Deno.PermissionDescriptor[] = [
    { name: "read", path },
    { name: "write", path },
    { name: "net", host: `unix:${path}` },
  ];
  try {
    return wanted.every((d) => Deno.permissions.querySync(d).state === "granted");
  } catch {
    return false;
  }
}

/** A worker's wake-up socket; `close` stops listening and removes it. */
export interface WakeListener {
  close(): Promise<void>;
}

/**
 * Listens at `path` (a wakeSocketPath) and calls `onWake` for every connection; null when
 * no socket can be made there (the worker then only polls).
 */
export async function wakeListen(path: string, onWake: () => void): Promise<WakeListener | null> {
  if (!mayUse(path)) return null;
  let listener: Deno.UnixListener;
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await Deno.remove(path).catch(() => {}); // left by a killed process
    listener = Deno.listen({ transport: "unix", path });
  } catch {
    return null;
  }
  const accepting = (async () => {
    for await (const conn of listener) {
      conn.close();
      onWake();
    }
  })().catch(() => {}); // closed
  return {
    close: async () => {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      await Deno.remove(path).catch(() => {});
    },
  };
}

/**
 * Wakes the workers listening beside the store at `dbPath` (at most 64, in parallel) and
 * removes the sockets no process listens on any more (a worker that was killed).
 */
export async function wakeWorkers(dbPath: string): Promise<void> {
  const dir = wakeDir(dbPath);
  const paths: string[] = [];
  if (dir === null) return;
  try {
    if (Deno.permissions.querySync({ name: "read", path: dir }).state !== "granted") return;
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name.endsWith(".sock")) paths.push(`${dir}/${entry.name}`);
      if (paths.length >= MAX_POKES) break;
    }
  } catch {
    return; // no worker has listened here
  }
  await Promise.all(
    paths.filter(mayUse).map(async (path) => {
      try {
        (await Deno.connect({ transport: "unix", path })).close();
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionRefused) await Deno.remove(path).catch(() => {});
      }
    }),
  );
}
