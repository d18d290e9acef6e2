/**
 * Store and disk faults, driving the real CLI: a data dir that cannot be created or
 * written, a corrupt or read-only store, a store locked by another process, a full disk
 * under a job's log. Each ends in one clear line and a non-zero exit, never a half-written
 * job.
 */
import assert from "node:assert/strict";
import {
  cli,
  cliCommand,
  cliJson,
  type CliResult,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { missingCommand, needs } from "../_helpers/needs.ts";
import { mountTmpfs, tmpfsMissing, umount } from "../_helpers/mounts.ts";
import { fileStoreOnly } from "../_helpers/store_mode.ts";

/** Asserts a failure: exit 1 and exactly one line on stderr, no stack trace. */
function assertOneLineFailure(result: CliResult, pattern: RegExp, what: string) {
  assert.equal(result.code, 1, `${what}: exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.trim().split("\n");
  assert.equal(
    lines.length,
    1,
    `${what}: one line on stderr, got ${JSON.stringify(result.stderr)}`,
  );
  assert.doesNotMatch(result.stderr, /^\s+at |Uncaught|panicked/m, `${what}: no stack trace`);
  assert.match(lines[0], pattern, what);
}

/** Commands that each touch the store in a different way. */
const COMMANDS = [
  ["enqueue", '{"id":"new","command":"true"}'],
  ["list"],
  ["status"],
  ["show", "seed"],
  ["config", "set", "max-retries", "5"],
  ["worker", "run", "--drain"],
];

/** Whether the tests run as root (from `id -u`: Deno.uid() needs --allow-sys=uid). */
async function isRoot(): Promise<boolean> {
  const out = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim() === "0";
}

/** Whether this process can drop root's right to ignore file modes (setpriv, CAP_SETPCAP). */
async function canDropDacOverride(): Promise<boolean> {
  try {
    const probe = await new Deno.Command("setpriv", {
      args: ["--bounding-set", "-dac_override,-dac_read_search", "--", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return probe.success;
  } catch {
    return false;
  }
}

/** Runs the CLI so that file modes bind it even as root (or as is, for other users). */
async function cliBound(home: TempHome, args: string[], env: Record<string, string> = {}) {
  const root = await isRoot();
  const [cmd, ...pre] = root
    ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", ...cliCommand()]
    : cliCommand();
  const out = await new Deno.Command(cmd, {
    args: [...pre, ...args],
    env: { ...home.env, ...env },
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  ...needs(
    "a data dir that cannot be created (a file is in its path): one clear line and exit 1 for every command",
    fileStoreOnly("the store is not in the data dir"),
  ),
  fn: async () => {
    const home = await tempHome();
    try {
      const file = `${home.home}/plain-file`;
      await Deno.writeTextFile(file, "not a directory\n");
      const env = { QUEUECTL_HOME: `${file}/sub` };
      for (const args of COMMANDS) {
        const result = await cli(home, args, { env });
        assertOneLineFailure(result, /^Cannot create data directory .*not a directory/, args[0]);
      }
      assert.equal(await Deno.readTextFile(file), "not a directory\n");
    } finally {
      await home.cleanup();
    }
  },
});

const modesBind = !await isRoot() || await canDropDacOverride();

Deno.test({
  ...needs(
    "a data dir without write permission: one clear line naming the directory, nothing written",
    fileStoreOnly("the store is not in the data dir") ??
      (modesBind ? null : "running as root without setpriv/CAP_SETPCAP, file modes cannot bind"),
  ),
  fn: readOnlyDataDir,
});

async function readOnlyDataDir() {
  const home = await tempHome();
  try {
    // A fresh data dir that is read-only: the store cannot be created.
    const fresh = `${home.home}/fresh`;
    await Deno.mkdir(fresh, { mode: 0o500 });
    await Deno.chmod(fresh, 0o500);
    const created = await cliBound(home, ["enqueue", "true"], { QUEUECTL_HOME: fresh });
    assertOneLineFailure(created, /^Cannot open store .*(not writable|read-only)/, "fresh");
    assert.deepEqual([...Deno.readDirSync(fresh)], [], "nothing was created");

    // An existing store whose directory became read-only.
    const seed = await cli(home, ["enqueue", '{"id":"seed","command":"true"}']);
    assert.equal(seed.code, 0, seed.stderr);
    const before = await Deno.readFile(`${home.home}/queue.db`);
    await Deno.chmod(home.home, 0o500);
    try {
      for (const args of [["enqueue", '{"id":"new","command":"true"}'], ["list"]]) {
        const result = await cliBound(home, args);
        assertOneLineFailure(result, /read-only|not writable|permission denied/i, args[0]);
      }
    } finally {
      await Deno.chmod(home.home, 0o700);
    }
    assert.deepEqual(await Deno.readFile(`${home.home}/queue.db`), before, "store unchanged");

    // A read-only store file in a writable directory.
    await Deno.chmod(`${home.home}/queue.db`, 0o400);
    const readOnly = await cliBound(home, ["enqueue", '{"id":"new","command":"true"}']);
    assertOneLineFailure(readOnly, /read-only/i, "read-only file");
    await Deno.chmod(`${home.home}/queue.db`, 0o600);
    const list = await cliJson<{ id: string }[]>(home, ["list"]);
    assert.deepEqual(list.map((j) => j.id), ["seed"], "no half-written job");
  } finally {
    await Deno.chmod(home.home, 0o700).catch(() => {});
    await home.cleanup();
  }
}

Deno.test({
  ...needs(
    "a corrupt store (text at the db path, or damaged pages): one clear line and exit 1 for every command, file untouched",
    fileStoreOnly("a corrupt KV file"),
  ),
  fn: async () => {
    const home = await tempHome();
    try {
      const db = `${home.home}/queue.db`;
      await Deno.writeTextFile(db, "this is a text file, not a store\n".repeat(50));
      const text = await Deno.readFile(db);
      for (const args of COMMANDS) {
        const result = await cli(home, args);
        assertOneLineFailure(result, /corrupt/, `text file: ${args[0]}`);
      }
      assert.deepEqual(await Deno.readFile(db), text, "the file is left as it was");

      // A real store whose last pages were overwritten.
      await Deno.remove(db);
      const lines = Array.from(
        { length: 50 },
        (_, i) => JSON.stringify({ id: `j${i}`, command: `echo ${"x".repeat(2000)}` }),
      );
      const seeded = await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") });
      assert.equal(seeded.code, 0, seeded.stderr);
      const data = await Deno.readFile(db);
      const page = 4096;
      for (let off = data.length - 8 * page; off < data.length; off += page) {
        data.fill(0xa5, off + 8, off + page);
      }
      await Deno.writeFile(db, data);
      for (const args of [["list"], ["enqueue", '{"id":"new","command":"true"}']]) {
        const result = await cli(home, args);
        assertOneLineFailure(result, /corrupt/, `damaged pages: ${args[0]}`);
      }
    } finally {
      await home.cleanup();
    }
  },
});

/** Whether SQLite says the store is locked for writing (a probe that does not wait). */
async function storeLocked(db: string): Promise<boolean> {
  const probe = await new Deno.Command("sqlite3", {
    args: ["-cmd", ".timeout 0", db, "BEGIN IMMEDIATE; ROLLBACK;"],
    stdout: "null",
    stderr: "piped",
  }).output();
  return !probe.success && /locked|busy/i.test(new TextDecoder().decode(probe.stderr));
}

/** Whether process `pid` holds `path` open (read from /proc through ls: Deno wants -A). */
async function holdsOpen(pid: number, path: string): Promise<boolean> {
  const out = await new Deno.Command("ls", {
    args: ["-l", `/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).includes(path);
}

Deno.test({
  ...needs(
    "a store locked by another process: commands give up with one line after QUEUECTL_BUSY_TIMEOUT_MS and write nothing; a worker waits the lock out",
    fileStoreOnly("SQLite file locks") ?? await missingCommand("sqlite3"),
  ),
  fn: lockedStore,
});

async function lockedStore() {
  const home = await tempHome();
  let locker: Deno.ChildProcess | null = null;
  let lockerIn: WritableStreamDefaultWriter<Uint8Array> | null = null;
  let worker: Deno.ChildProcess | null = null;
  const db = `${home.home}/queue.db`;
  try {
    const seed = await cli(home, ["enqueue", '{"id":"seed","command":"echo ran"}']);
    assert.equal(seed.code, 0, seed.stderr);
    // The sqlite3 shell holds an exclusive lock until it reads ROLLBACK (or its stdin ends).
    locker = new Deno.Command("sqlite3", {
      args: ["-bail", db],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    lockerIn = locker.stdin.getWriter();
    await lockerIn.write(new TextEncoder().encode("BEGIN EXCLUSIVE;\n.print locked\n"));
    const reader = locker.stdout.getReader();
    const first = await reader.read();
    reader.releaseLock();
    assert.match(new TextDecoder().decode(first.value), /locked/);
    assert.ok(await storeLocked(db), "the store is locked");

    const env = { QUEUECTL_BUSY_TIMEOUT_MS: "1000" };
    for (const args of [["enqueue", '{"id":"new","command":"true"}'], ["list"], ["status"]]) {
      const result = await cli(home, args, { env });
      assertOneLineFailure(result, /is locked by another process: gave up after 1s/, args[0]);
    }
    // A worker started now waits for the lock instead of failing: once it has the store
    // open, the lock is held for longer than the commands' deadline before it goes.
    const [cmd, ...pre] = cliCommand();
    worker = new Deno.Command(cmd, {
      args: [...pre, "worker", "run", "--drain"],
      env: { ...home.env, ...env },
      cwd: home.home,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const workerPid = worker.pid;
    await waitFor(() => holdsOpen(workerPid, db), {
      timeoutMs: 30_000,
      what: "the worker to open the store",
    });
    let exited = false;
    worker.status.then(() => exited = true);
    await new Promise((r) => setTimeout(r, 1500)); // the lock outlasts the 1 s deadline
    assert.equal(exited, false, "the worker did not give up while the store was locked");
    assert.ok(await storeLocked(db), "the lock was held all along");
    await lockerIn.write(new TextEncoder().encode("ROLLBACK;\n"));
    await lockerIn.close();
    lockerIn = null;
    assert.equal((await locker.status).code, 0);
    locker = null;
    assert.equal((await worker.status).code, 0, "the worker ran once the lock was gone");
    worker = null;
    const jobs = await cliJson<{ id: string; state: string }[]>(home, ["list"]);
    assert.deepEqual(
      jobs.map((j) => [j.id, j.state]),
      [["seed", "completed"]],
      "nothing half-written",
    );
  } finally {
    await lockerIn?.close().catch(() => {});
    for (const child of [locker, worker]) {
      if (!child) continue;
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
    }
    await home.cleanup();
  }
}

Deno.test("a job's log that cannot be written: the job's result stands, the attempt names the error, the worker says so in one line and drain exits 1", async () => {
  const home = await tempHome();
  try {
    const enq = await cli(home, ["enqueue", '{"id":"nolog","command":"echo some output"}']);
    assert.equal(enq.code, 0, enq.stderr);
    await Deno.mkdir(`${home.home}/logs`, { recursive: true });
    await Deno.writeTextFile(`${home.home}/logs/nolog`, "a file where the job's log dir goes");
    const run = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(run.code, 1, run.stderr);
    assertLogWarning(run.stderr, "nolog", /log write failed/);
    const job = await showJob(home, "nolog");
    assert.equal(job.state, "completed", "the job itself succeeded");
    assert.match(job.history[0].error ?? "", /log write failed/);
    assert.equal(job.history[0].output_tail, "some output\n", "the KV tail still has the output");
  } finally {
    await home.cleanup();
  }
});

Deno.test({
  ...needs(
    "a full disk (a small tmpfs): a job's log fills it and the job's result stands; a store on it refuses new jobs with one line and keeps every earlier job whole",
    fileStoreOnly("a KV file on a full disk") ??
      await tmpfsMissing(),
  ),
  fn: fullDisk,
});

async function fullDisk() {
  const home = await tempHome();
  const mounts: string[] = [];
  const mount = async (dir: string, size: string) => {
    const mounted = await mountTmpfs(dir, size);
    if (mounted) mounts.push(dir);
    return mounted;
  };
  try {
    assert.ok(await mount(`${home.home}/logs`, "64k"), "first tmpfs");
    // The log fills its disk: ENOSPC, a true disk full.
    const big = "head -c 300000 /dev/zero | tr '\\0' x; echo; echo done";
    await cli(home, ["enqueue", JSON.stringify({ id: "flood", command: big })]);
    const run = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(run.code, 1, run.stderr);
    assertLogWarning(run.stderr, "flood", /No space left on device|os error 28/);
    const job = await showJob(home, "flood");
    assert.equal(job.state, "completed");
    assert.match(job.history[0].output_tail, /done\n$/);

    // The store's own disk fills: each enqueue is whole or absent.
    const storeHome = `${home.home}/small-store`;
    assert.ok(await mount(storeHome, "512k"), "second tmpfs");
    const env = { QUEUECTL_HOME: storeHome };
    const command = `echo ${"y".repeat(12_000)}`;
    let failure: CliResult | null = null;
    const enqueued: string[] = [];
    for (let i = 0; i < 200 && !failure; i++) {
      const id = `big${i}`;
      const result = await cli(home, ["enqueue", JSON.stringify({ id, command })], { env });
      if (result.code === 0) enqueued.push(id);
      else failure = result;
    }
    assert.ok(failure, "the store's disk filled up");
    assertOneLineFailure(
      failure,
      /disk is full|No space left|os error 28/i,
      "enqueue on a full disk",
    );
    const list = await cli(home, ["list", "--limit", "1000", "--json"], { env });
    assert.equal(list.code, 0, `reading still works: ${list.stderr}`);
    const listed = JSON.parse(list.stdout) as { id: string; command: string }[];
    assert.deepEqual(listed.map((j) => j.id).sort(), [...enqueued].sort(), "no half-written job");
    assert.ok(listed.every((j) => j.command === command), "every stored job is whole");
  } finally {
    for (const dir of mounts.reverse()) await umount(dir);
    await home.cleanup();
  }
}

interface ShownJob {
  state: string;
  history: { error: string | null; output_tail: string }[];
}

const showJob = (home: TempHome, id: string) => cliJson<ShownJob>(home, ["show", id]);

/** Asserts that the worker's stderr has exactly one warning line about the job's log. */
function assertLogWarning(stderr: string, id: string, pattern: RegExp) {
  const warnings = stderr.split("\n").filter((l) => /log write failed/.test(l));
  assert.equal(warnings.length, 1, stderr);
  assert.match(warnings[0], new RegExp(`${id}: warning: log write failed`));
  assert.match(warnings[0], pattern);
  assert.doesNotMatch(stderr, /^\s+at |Uncaught/m);
}
