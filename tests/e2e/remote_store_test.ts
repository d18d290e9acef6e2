/**
 * A KV Connect store named by --db / QUEUECTL_DB: which store status reads, the worker's
 * narrow permissions, the token kept out of sight, and the one-line failures of a bad URL,
 * a wrong token, an unreachable host and a server that is not KV Connect. The tests start
 * their own servers, so they run once, in the suite's file-store pass.
 * @module
 */
import assert from "node:assert/strict";
import { cli, cliJson, killWorkers, type TempHome, tempHome, waitFor } from "../_helpers/cli.ts";
import { processArgv } from "../_helpers/procs.ts";
import { startKvServer } from "../_helpers/kv_connect_server.ts";
import { needs } from "../_helpers/needs.ts";
import { ownServerOnce } from "../_helpers/store_mode.ts";

/** Every file under `dir`, read as text. */
async function allText(dir: string): Promise<string> {
  let text = "";
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) text += await allText(path);
    else if (entry.isFile) text += await Deno.readTextFile(path).catch(() => "");
  }
  return text;
}

/** A home whose store is the KV Connect server at `url`, with its token in the environment. */
function remoteHome(home: TempHome, url: string, token: string): TempHome {
  return { ...home, env: { ...home.env, QUEUECTL_DB: url, DENO_KV_ACCESS_TOKEN: token } };
}

Deno.test({
  ...needs(
    "e2e: on a KV Connect store, status names it, a detached worker gets that host alone and the token only by env, and the token is shown nowhere",
    ownServerOnce(),
  ),
  fn: async () => {
    const server = await startKvServer();
    const base = await tempHome({ mode: "file" });
    const home = remoteHome(base, server.url, server.token);
    const outputs: string[] = [];
    const run = async (args: string[]) => {
      const result = await cli(home, args);
      outputs.push(result.stdout, result.stderr);
      assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
      return result;
    };
    try {
      await run(["enqueue", '{"id":"r1","command":"echo ran-remotely"}']);
      const status = await cliJson<{ store: { kind: string; location: string } }>(home, ["status"]);
      assert.deepEqual(status.store, { kind: "kv_connect", location: server.url });
      const text = await run(["status"]);
      assert.match(text.stdout, new RegExp(`^Store: ${server.url} \\(KV Connect\\)$`, "m"));
      await run(["worker", "start", "--count", "1"]);
      const [worker] = await cliJson<{ pid: number }[]>(home, ["worker", "status"]);
      const argv = await processArgv(worker.pid);
      assert.ok(argv.includes(`--allow-net=${new URL(server.url).host}`), argv.join(" "));
      assert.ok(argv.some((a) => /^--allow-env=.*DENO_KV_ACCESS_TOKEN/.test(a)), argv.join(" "));
      assert.ok(!argv.join(" ").includes(server.token), "the token is not on its command line");
      await waitFor(
        async () => (await cliJson<{ state: string }>(home, ["show", "r1"])).state === "completed",
        {
          timeoutMs: 20_000,
          what: "r1 completed by the detached worker",
        },
      );
      await run(["logs", "r1"]);
      await run(["worker", "stop"]);
      for (const out of outputs) assert.ok(!out.includes(server.token), `printed: ${out}`);
      assert.ok(!(await allText(base.home)).includes(server.token), "no file holds the token");
      assert.ok(outputs.join("").includes("ran-remotely"), "logs showed the job's output");
    } finally {
      await killWorkers(home);
      await base.cleanup();
      await server.stop();
    }
  },
});

/** Runs `status` against a store and returns the exit code, the stderr line and the time. */
async function statusOf(home: TempHome, env: Record<string, string>) {
  const started = Date.now();
  const result = await cli(home, ["status"], { env });
  return { ...result, ms: Date.now() - started };
}

/** Asserts a failure of exactly one line matching `line`, nothing on stdout. */
function assertOneLine(
  result: { code: number; stdout: string; stderr: string },
  code: number,
  line: RegExp,
) {
  assert.equal(result.code, code, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.match(result.stderr.trim(), line);
}

Deno.test({
  ...needs(
    "e2e: a malformed store URL exits 2, a wrong token and an unreachable host exit 1, each with one line",
    ownServerOnce(),
  ),
  fn: async () => {
    const server = await startKvServer();
    const home = await tempHome({ mode: "file" });
    try {
      const malformed = await statusOf(home, { QUEUECTL_DB: "http//kv:80" });
      assert.equal(malformed.code, 0, "a path that merely contains a colon is a file");
      for (const bad of ["ftp://kv.example.com", "https:/kv.example.com", "http://"]) {
        const result = await statusOf(home, { QUEUECTL_DB: bad, DENO_KV_ACCESS_TOKEN: "t" });
        assertOneLine(result, 2, /^Invalid store ".*": expected a file path or an http/);
      }
      const noToken = await statusOf(home, { QUEUECTL_DB: server.url, DENO_KV_ACCESS_TOKEN: "" });
      assertOneLine(noToken, 2, /is a KV Connect URL: set DENO_KV_ACCESS_TOKEN/);
      const wrong = await statusOf(home, { QUEUECTL_DB: server.url, DENO_KV_ACCESS_TOKEN: "nope" });
      assertOneLine(
        wrong,
        1,
        /refused the access token in DENO_KV_ACCESS_TOKEN \(401 Unauthorized\)$/,
      );
      assert.ok(!wrong.stderr.includes("nope"), "the token is not echoed");
      const port = server.port;
      await server.kill();
      const refused = await statusOf(home, {
        QUEUECTL_DB: `http://127.0.0.1:${port}`,
        DENO_KV_ACCESS_TOKEN: server.token,
      });
      assertOneLine(refused, 1, /^Cannot open store ".*": cannot reach the server/);
    } finally {
      await home.cleanup();
      await server.stop();
    }
  },
});

Deno.test({
  ...needs(
    "e2e: a URL that is not a KV Connect endpoint, or a server that never answers, exits 1 with one line within about 10 s",
    ownServerOnce(),
  ),
  fn: async () => {
    const home = await tempHome({ mode: "file" });
    const stop = new AbortController();
    const silent = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {}, signal: stop.signal },
      async () => {
        await new Promise((r) => stop.signal.addEventListener("abort", r, { once: true }));
        return new Response("late");
      },
    );
    const web = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {}, signal: stop.signal },
      () => new Response("<html>a web page</html>", { headers: { "content-type": "text/html" } }),
    );
    try {
      const env = { DENO_KV_ACCESS_TOKEN: "t" };
      const page = await statusOf(home, {
        ...env,
        QUEUECTL_DB: `http://127.0.0.1:${web.addr.port}`,
      });
      assertOneLine(page, 1, /^Cannot open store ".*": not a KV Connect endpoint/);
      const hang = await statusOf(home, {
        ...env,
        QUEUECTL_DB: `http://127.0.0.1:${silent.addr.port}`,
      });
      assertOneLine(hang, 1, /^Cannot reach store ".*": no answer within 10s$/);
      assert.ok(hang.ms < 15_000, `took ${hang.ms} ms`);
    } finally {
      stop.abort();
      await Promise.allSettled([silent.finished, web.finished]);
      await home.cleanup();
    }
  },
});
