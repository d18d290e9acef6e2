import assert from "node:assert/strict";
import { wakeListen, wakeWorkers } from "../../lib/worker/wake_socket.ts";
import { resolvePaths, wakeSocketPath } from "../../lib/paths.ts";
import { startWorker } from "../../lib/worker/worker.ts";
import { jobGet, jobInsertMany } from "../../lib/store/jobs.ts";
import { makeJob, tempKv } from "../store/_kv.ts";
import { CLI_FLAGS, killPid, MAIN, runArgv, tempHome, waitFor } from "../_helpers/cli.ts";

/** The wake-up socket of a worker of a store in a temp dir (short and absolute: never null). */
function socketOf(dbPath: string, workerId: string): string {
  const path = wakeSocketPath(dbPath, workerId);
  assert.ok(path, `a socket path for ${dbPath}`);
  return path;
}

/** Whether a file exists. */
async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("wakeWorkers() wakes each worker listening beside the store and removes sockets left by killed ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-wake-" });
  const db = `${dir}/queue.db`;
  const woken = { a: 0, b: 0 };
  const a = await wakeListen(socketOf(db, "w-a"), () => woken.a++);
  const b = await wakeListen(socketOf(db, "w-b"), () => woken.b++);
  let orphan: Deno.ChildProcess | null = null;
  try {
    assert.ok(a && b, "unix sockets are available here");
    // A worker killed by SIGKILL leaves its socket file behind, with nobody listening.
    const stale = socketOf(db, "w-dead");
    orphan = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(stale)} }); ` +
        `console.log("listening"); setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = orphan.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /listening/);
    reader.releaseLock();
    orphan.kill("SIGKILL");
    await orphan.status;
    await orphan.stdout.cancel();
    orphan = null;
    assert.ok(await exists(stale), "the killed process left its socket");

    await wakeWorkers(db);
    await waitFor(() => woken.a === 1 && woken.b === 1, { timeoutMs: 5000, what: "both woken" });
    assert.equal(await exists(stale), false, "the stale socket is gone");
    await wakeWorkers(db);
    await waitFor(() => woken.a === 2 && woken.b === 2, { timeoutMs: 5000, what: "woken again" });

    await a.close();
    assert.equal(await exists(socketOf(db, "w-a")), false, "close() removes the socket");
    await wakeWorkers(db);
    await waitFor(() => woken.b === 3, { timeoutMs: 5000, what: "b woken a third time" });
    assert.equal(woken.a, 2);
  } finally {
    if (orphan) {
      orphan.kill("SIGKILL");
      await orphan.status;
    }
    await a?.close();
    await b?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wakeWorkers() does nothing for a store no worker listens beside", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-wake-" });
  try {
    await wakeWorkers(`${dir}/queue.db`);
    assert.equal(await exists(`${dir}/queue.db.wake`), false, "nothing created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an idle worker polling once a minute runs a job at once when the enqueue wakes it", async () => {
  const store = await tempKv();
  const dir = store.path.slice(0, store.path.lastIndexOf("/"));
  const paths = { ...resolvePaths({ QUEUECTL_HOME: dir }), dbPath: store.path };
  const minute = 60_000;
  const worker = startWorker({
    kv: store.kv,
    paths,
    id: "w-wake",
    host: "test",
    pid: Deno.pid,
    concurrency: 1,
    drain: false,
    queues: null,
    timing: { idleMinMs: minute, idleMaxMs: minute, rescueMs: minute, sweepMs: minute },
  });
  try {
    await waitFor(() => exists(socketOf(store.path, "w-wake")), {
      timeoutMs: 10_000,
      what: "the worker's socket",
    });
    // Each job is enqueued and the worker woken; the lane has gone back to its minute-long
    // wait after the first one, so only the wake-up can start the second within the bound.
    for (const id of ["first", "second"]) {
      await jobInsertMany(store.kv, [makeJob({ id, command: "true" })]);
      await wakeWorkers(store.path);
      await waitFor(async () => (await jobGet(store.kv, id))?.job.state === "completed", {
        timeoutMs: 20_000,
        what: `${id} to complete`,
      });
    }
  } finally {
    worker.stop(true);
    await worker.done;
    await store.cleanup();
  }
});

Deno.test("a store named by a relative --db, and a CLI without net permission: no prompt, the worker runs the job", async () => {
  const home = await tempHome();
  // The CLI as `deno install` runs it without --allow-net; the store relative to the cwd.
  const argv = [Deno.execPath(), "run", "--quiet", "--no-prompt"];
  const run = (args: string[]) =>
    runArgv(home, [...argv, ...CLI_FLAGS.filter((f) => f !== "--allow-net"), MAIN, ...args]);
  let pid: number | null = null;
  try {
    const started = await run(["--db", "q.db", "worker", "start", "--json"]);
    assert.equal(started.code, 0, started.stderr);
    pid = (JSON.parse(started.stdout) as { pid: number }[])[0].pid;
    const enqueued = await run(["--db", "q.db", "enqueue", "--id", "rel", "true"]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    await waitFor(async () => {
      const shown = await run(["--db", "q.db", "show", "rel", "--json"]);
      return shown.code === 0 && JSON.parse(shown.stdout).state === "completed";
    }, { timeoutMs: 20_000, what: "the job to complete" });
    // The relative name is resolved to an absolute path, so the worker has its socket; the
    // CLI, without net permission, cannot wake it, and the worker's poll finds the job.
    assert.equal(await exists(`${home.home}/q.db`), true, "the store is beside the cwd");
    const stopped = await run(["--db", "q.db", "worker", "stop"]);
    assert.equal(stopped.code, 0, stopped.stderr);
    pid = null;
  } finally {
    if (pid !== null) killPid(pid);
    await home.cleanup();
  }
});
