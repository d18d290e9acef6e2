import assert from "node:assert/strict";
import { type LaunchContext, workerCommandLine, workerPermissionFlags } from "../lib/supervisor.ts";
import { ENV_VARS, resolvePaths } from "../lib/paths.ts";

const paths = resolvePaths({ QUEUECTL_HOME: "/data/q" });
const worker = {
  paths,
  workerId: "w-1234abcd",
  logFile: "/data/q/workers/w-1234abcd.log",
  concurrency: 3,
  queues: null,
};
const tail = [
  "worker",
  "run",
  "--worker-id",
  "w-1234abcd",
  "--log-file",
  "/data/q/workers/w-1234abcd.log",
  "--concurrency",
  "3",
];

Deno.test("workerCommandLine() runs a compiled binary itself, with no deno flags", () => {
  const launch: LaunchContext = {
    standalone: true,
    execPath: "/usr/local/bin/queuectl",
    mainModule: "file:///tmp/deno-compile-queuectl/main.ts",
  };
  assert.deepEqual(workerCommandLine(launch, worker), ["/usr/local/bin/queuectl", ...tail]);
});

Deno.test("workerCommandLine() under deno run: deno run, narrow permissions, the main module", () => {
  const launch: LaunchContext = {
    standalone: false,
    execPath: "/usr/bin/deno",
    mainModule: "file:///src/queuectl/main.ts",
  };
  const argv = workerCommandLine(launch, worker);
  assert.deepEqual(argv, [
    "/usr/bin/deno",
    "run",
    "--no-config",
    "--unstable-kv",
    "--no-prompt",
    ...workerPermissionFlags(paths, "w-1234abcd"),
    "file:///src/queuectl/main.ts",
    ...tail,
  ]);
  assert.ok(!argv.some((a) => a.startsWith("--allow-import")), "a local module imports nothing");
  assert.ok(!argv.includes("-A") && !argv.includes("--allow-all"));
});

Deno.test("workerCommandLine() for a main module served over http(s) allows imports from its host", () => {
  for (
    const [mainModule, host] of [
      ["http://127.0.0.1:8123/main.ts", "127.0.0.1:8123"],
      ["https://raw.githubusercontent.com/o/queuectl/v0.1.0/main.ts", "raw.githubusercontent.com"],
    ]
  ) {
    const argv = workerCommandLine({ standalone: false, execPath: "deno", mainModule }, worker);
    const main = argv.indexOf(mainModule);
    assert.ok(main > 0, `main module in ${argv.join(" ")}`);
    assert.deepEqual(argv.slice(main + 1), tail, "the worker arguments follow the main module");
    const flags = argv.slice(0, main);
    assert.ok(flags.includes(`--allow-import=${host}`), flags.join(" "));
    assert.ok(flags.includes("--no-config"), "a project's deno.json in the cwd is not picked up");
    assert.ok(flags.includes("--unstable-kv"));
  }
});

Deno.test("workerCommandLine() passes --db and --queue on to the worker", () => {
  const launch: LaunchContext = { standalone: true, execPath: "/bin/queuectl", mainModule: "" };
  const argv = workerCommandLine(launch, {
    ...worker,
    dbOverride: "/elsewhere/q.db",
    queues: ["emails", "reports"],
  });
  assert.deepEqual(argv.slice(-4), ["--db", "/elsewhere/q.db", "--queue", "emails,reports"]);
});

Deno.test("workerPermissionFlags() grants the data dir and the db's dir, sh, FFI, queuectl's env vars and the worker's wake-up socket", () => {
  const other = resolvePaths({ QUEUECTL_HOME: "/data/q" }, "/other/q.db");
  assert.deepEqual(workerPermissionFlags(other, "w-1"), [
    "--allow-read=/data/q,/other",
    "--allow-write=/data/q,/other",
    "--allow-run=sh,setsid",
    "--allow-ffi",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--allow-sys=hostname",
    "--allow-net=unix:/other/q.db.wake/w-1.sock",
  ]);
  assert.deepEqual(workerPermissionFlags(paths, "w-1").slice(0, 2), [
    "--allow-read=/data/q",
    "--allow-write=/data/q",
  ]);
  // Deno names a unix socket only by an absolute path: a relative store gets no socket.
  const relative = workerPermissionFlags(resolvePaths({ QUEUECTL_HOME: "q" }), "w-1");
  assert.ok(!relative.some((f) => f.startsWith("--allow-net")), relative.join(" "));
});

Deno.test("workerPermissionFlags() for a KV Connect store: the store's host alone, the token's env var, the data dir", () => {
  const remote = resolvePaths({ QUEUECTL_HOME: "/data/q" }, "https://kv.example.com:8443/db");
  assert.deepEqual(workerPermissionFlags(remote, "w-1"), [
    "--allow-read=/data/q",
    "--allow-write=/data/q",
    "--allow-run=sh,setsid",
    "--allow-ffi",
    `--allow-env=${ENV_VARS.join(",")},DENO_KV_ACCESS_TOKEN`,
    "--allow-sys=hostname",
    "--allow-net=kv.example.com:8443",
  ]);
  const argv = workerCommandLine(
    { standalone: false, execPath: "/usr/bin/deno", mainModule: "file:///src/main.ts" },
    { ...worker, paths: remote, dbOverride: "https://kv.example.com:8443/db" },
  );
  assert.deepEqual(argv.slice(-2), ["--db", "https://kv.example.com:8443/db"]);
});
