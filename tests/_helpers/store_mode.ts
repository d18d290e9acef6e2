/**
 * Which store the test suite runs on: a KV file (the default) or, with
 * `QUEUECTL_TEST_STORE=kv_connect`, a KV Connect server started per test home (see
 * kv_connect_server.ts). Tests that only make sense on one of them are ignored on the
 * other with the reason in their name (see needs.ts), decided at load time.
 * @module
 */
import { type KvServer, startKvServer } from "./kv_connect_server.ts";

/** The environment variable that picks the suite's store. */
export const TEST_STORE_ENV = "QUEUECTL_TEST_STORE";

/** The store the tests in this process run on. */
export type TestStore = "file" | "kv_connect";

/** The store chosen by `$QUEUECTL_TEST_STORE` (`kv_connect`), else a file. */
export function testStore(): TestStore {
  return Deno.env.get(TEST_STORE_ENV) === "kv_connect" ? "kv_connect" : "file";
}

/**
 * Why a test that runs on a KV file only is ignored in this pass (null: it runs), for
 * `needs()`: `needs(name, fileStoreOnly("SQLite file locks"))`.
 */
export function fileStoreOnly(why: string): string | null {
  return testStore() === "kv_connect" ? `a KV file only: ${why}` : null;
}

/**
 * Why a test that starts its own KV Connect server is ignored in this pass (null: it
 * runs): it runs once, in the file-store pass.
 */
export function ownServerOnce(): string | null {
  return testStore() === "kv_connect"
    ? "starts its own KV Connect server: runs in the file pass"
    : null;
}

/** A store for one test: a file path, or a running KV Connect server. */
export interface TestStoreHandle {
  /** What `--db` / QUEUECTL_DB would say: a path or a URL. */
  db: string;
  /** The environment a CLI needs to use it (QUEUECTL_DB and the token for a server). */
  env: Record<string, string>;
  /** The server, when the store is remote. */
  server: KvServer | null;
  /** Opens a handle on the store from this test process. */
  open(): Promise<Deno.Kv>;
  /** Stops the server, if any (a file is removed with its directory by the caller). */
  stop(): Promise<void>;
}

/** The store of a test whose data dir is `dir`: `dir/queue.db`, or a fresh KV Connect server. */
export async function testStoreFor(dir: string, mode = testStore()): Promise<TestStoreHandle> {
  if (mode === "file") {
    const db = `${dir}/queue.db`;
    return { db, env: {}, server: null, open: () => Deno.openKv(db), stop: async () => {} };
  }
  const server = await startKvServer();
  return {
    db: server.url,
    env: { QUEUECTL_DB: server.url, DENO_KV_ACCESS_TOKEN: server.token },
    server,
    open: () => openRemoteKv(server),
    stop: () => server.stop(),
  };
}

/** Opens a KV Connect server's store with Deno's client (the token goes through the env). */
export async function openRemoteKv(server: { url: string; token: string }): Promise<Deno.Kv> {
  Deno.env.set("DENO_KV_ACCESS_TOKEN", server.token);
  return await Deno.openKv(server.url);
}
