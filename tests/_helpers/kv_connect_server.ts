/**
 * A real KV Connect server for tests: a thin `Deno.serve` front (HTTP/2 without TLS on an
 * http:// URL, which Deno's KV client speaks) over denokv's own SQLite engine, the N-API
 * addon of npm `@deno/kv`. The semantics and limits (10 checks per write, 1000 mutations,
 * 10 ranges per read…) are therefore denokv's. Run as its own process (see
 * startKvServer) so that a test can SIGKILL it mid-drain and start it again on the same
 * file and port.
 * @module
 */

/** The database id this server hands out (denokv's own server uses the nil UUID too). */
const DATABASE_ID = "00000000-0000-0000-0000-000000000000";

/** The environment variable the server reads its access token from (not argv: `ps` shows it). */
const TOKEN_ENV = "KV_CONNECT_TEST_TOKEN";

/** The addon's functions this front calls; they take and return protobuf bytes. */
interface Engine {
  snapshotRead(db: number, bytes: Uint8Array, debug: boolean): Promise<Uint8Array>;
  atomicWrite(db: number, bytes: Uint8Array, debug: boolean): Promise<Uint8Array>;
  startWatch(db: number, bytes: Uint8Array, debug: boolean): Promise<number>;
  dequeueNextWatchMessage(
    db: number,
    watchId: number,
    debug: boolean,
  ): Promise<Uint8Array | undefined>;
  endWatch(db: number, watchId: number, debug: boolean): void;
}

/** The addon's names for request errors, which denokv's server answers with 400. */
const BAD_REQUEST =
  /KeyTooLong|ValueTooLong|ReadRangeTooLarge|AtomicWriteTooLarge|TooManyReadRanges|TooManyWatchedKeys|TooManyChecks|TooManyMutations|TooManyQueue|QueueBackoff|InvalidReadRangeLimit|InvalidVersionstamp|InvalidMutation|TypeMismatch|UnknownValueEncoding|SumOutOfRange|decode/i;

/** One running test server. */
export interface KvServer {
  /** The URL to hand to `Deno.openKv` / `--db`. */
  url: string;
  /** The access token (`DENO_KV_ACCESS_TOKEN`). */
  token: string;
  /** The SQLite file behind it. */
  path: string;
  port: number;
  /** The current server process. */
  pid: number;
  /** SIGKILLs the server process (the file stays). */
  kill(): Promise<void>;
  /** Starts the server again on the same file and port. */
  restart(): Promise<void>;
  /** Kills the server and removes the temp dir it made (a given `path` stays). */
  stop(): Promise<void>;
  /** Requests served since it started, per path (`/v2/snapshot_read`, …). */
  requests(): Promise<Record<string, number>>;
}

/**
 * The token of every test server in this test run. Deno's client reads it from the process
 * environment, which `deno test --parallel` shares between the files it runs at once: with a
 * token per server, one file's `Deno.env.set` could land between another's set and open.
 */
export const TEST_TOKEN = "queuectl-test-token";

/**
 * Starts a KV Connect server process on `path` (a temp file by default) and returns once
 * it listens. The caller must `stop()` it in `finally`.
 */
export async function startKvServer(
  options: { path?: string; token?: string; port?: number } = {},
): Promise<KvServer> {
  const ownDir = options.path ? null : await Deno.makeTempDir({ prefix: "queuectl-kvs-" });
  const path = options.path ?? `${ownDir}/kv.sqlite`;
  const token = options.token ?? TEST_TOKEN;
  let proc = await spawnServer(path, token, options.port ?? 0);
  const server: KvServer = {
    url: `http://127.0.0.1:${proc.port}`,
    token,
    path,
    port: proc.port,
    pid: proc.child.pid,
    async kill() {
      try {
        Deno.kill(proc.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await proc.child.status;
    },
    async restart() {
      await server.kill();
      proc = await spawnServer(path, token, server.port);
      server.pid = proc.child.pid;
    },
    async requests() {
      const res = await fetch(`${server.url}/_requests`);
      return await res.json();
    },
    async stop() {
      await server.kill();
      if (ownDir) await Deno.remove(ownDir, { recursive: true }).catch(() => {});
    },
  };
  return server;
}

/** Spawns the server and reads the port it announces on its first stdout line. */
async function spawnServer(
  path: string,
  token: string,
  port: number,
): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      import.meta.filename!,
      path,
      String(port),
    ],
    env: { [TOKEN_ENV]: token },
    stdin: "null",
    stdout: "piped",
    // Quiet: clients killed mid-request (the tests' point) make Deno.serve complain.
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  // A port freed by a killed server can take a moment to be free again.
  const deadline = Date.now() + 30_000;
  while (!text.includes("\n")) {
    const timer = new Promise<"timeout">((r) => {
      const id = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
      Deno.unrefTimer(id);
    });
    const next = await Promise.race([reader.read(), timer]);
    if (next === "timeout" || next.done) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      throw new Error(`KV Connect test server on ${path} did not start`);
    }
    text += next.value;
  }
  reader.releaseLock();
  // Nothing else is printed; keep draining so the pipe never fills.
  child.stdout.pipeTo(new WritableStream()).catch(() => {});
  const match = /^listening (\d+)$/m.exec(text);
  if (!match) throw new Error(`KV Connect test server said: ${text}`);
  return { child, port: Number(match[1]) };
}

/** Serves KV Connect for the SQLite file at `path` on `port` (0: any free port). */
async function serve(path: string, port: number, token: string): Promise<void> {
  const { makeNapiBasedService } = await import("npm:@deno/kv@0.14.0");
  const { serialize, deserialize } = await import("node:v8");
  // The service's KV object carries the addon (`napi`) and the opened database's id.
  const opened = await makeNapiBasedService({ encodeV8: serialize, decodeV8: deserialize })
    .openKv(path) as unknown as { napi: Engine; dbId: number };
  const engine = opened.napi;
  const db = opened.dbId;
  const handler = (req: Request) => handle(req, { engine, db, token });
  for (let tries = 0;; tries++) {
    try {
      Deno.serve({
        hostname: "127.0.0.1",
        port,
        onListen: ({ port }) => console.log(`listening ${port}`),
      }, handler);
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse) || tries > 200) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What a request is served with. */
interface Backend {
  engine: Engine;
  db: number;
  token: string;
}

/** Requests served, per data path endpoint (GET /_requests reads them: tests count them). */
const served: Record<string, number> = {};

async function handle(req: Request, backend: Backend): Promise<Response> {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname === "/_requests") return Response.json(served);
  if (req.method !== "POST") return text(405, "Method not allowed.");
  served[url.pathname] = (served[url.pathname] ?? 0) + 1;
  if (!url.pathname.startsWith("/v2/")) return await metadata(req, backend);
  if (bearer(req) !== backend.token) return text(401, "Invalid access token.");
  const version = req.headers.get("x-denokv-version");
  if (version !== "2" && version !== "3") return text(400, "Expected protocol version 2.");
  if (req.headers.get("x-denokv-database-id") !== DATABASE_ID) {
    return text(400, "Invalid database id.");
  }
  const body = new Uint8Array(await req.arrayBuffer());
  const { engine, db } = backend;
  try {
    switch (url.pathname) {
      case "/v2/snapshot_read":
        return protobuf(await engine.snapshotRead(db, body, false));
      case "/v2/atomic_write":
        return protobuf(await engine.atomicWrite(db, body, false));
      case "/v2/watch":
        return watch(engine, db, await engine.startWatch(db, body, false));
      default:
        return text(404, "Resource not found.");
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (BAD_REQUEST.test(message)) return text(400, message);
    if (/DatabaseClosed/.test(message)) return text(503, message);
    return text(500, message);
  }
}

/** The metadata exchange: the token checked, a protocol version chosen, one strong endpoint. */
async function metadata(req: Request, backend: Backend): Promise<Response> {
  let versions: unknown;
  try {
    versions = (await req.json()).supportedVersions;
  } catch {
    return text(400, "The server requires at least protocol version 2.");
  }
  if (!Array.isArray(versions)) return text(400, "Malformed metadata exchange request.");
  const version = versions.includes(3) ? 3 : versions.includes(2) ? 2 : null;
  if (version === null) return text(400, "The server requires protocol version 2 or 3.");
  if (bearer(req) !== backend.token) return text(401, "Invalid access token.");
  return Response.json({
    version,
    databaseId: DATABASE_ID,
    endpoints: [{ url: "/v2", consistency: "strong" }],
    token: backend.token,
    expiresAt: new Date(Date.now() + 24 * 3600_000).toISOString(),
  });
}

/** A watch: each change as a frame prefixed by its 4-byte little-endian length; pings every 5 s. */
function watch(engine: Engine, db: number, watchId: number): Response {
  let ended = false;
  let ping: ReturnType<typeof setInterval> | undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(ping);
    engine.endWatch(db, watchId, false);
  };
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      ping = setInterval(() => {
        if (!ended) controller.enqueue(frame(new Uint8Array()));
      }, 5000);
    },
    async pull(controller) {
      const next = await engine.dequeueNextWatchMessage(db, watchId, false).catch(() => undefined);
      if (ended) return;
      if (next === undefined) {
        end();
        controller.close();
      } else {
        controller.enqueue(frame(next));
      }
    },
    cancel: end,
  });
  return new Response(body, { headers: { "content-type": "application/octet-stream" } });
}

function frame(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length, true);
  out.set(bytes, 4);
  return out;
}

function bearer(req: Request): string | null {
  const match = /^bearer (.*)$/i.exec(req.headers.get("authorization") ?? "");
  return match ? match[1] : null;
}

function protobuf(bytes: Uint8Array): Response {
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "application/x-protobuf" },
  });
}

function text(status: number, message: string): Response {
  return new Response(message, { status, headers: { "content-type": "text/plain" } });
}

if (import.meta.main) {
  const [path, port] = Deno.args;
  await serve(path, Number(port), Deno.env.get(TOKEN_ENV) ?? "");
}
