/**
 * Reliability under faults, driving the real CLI: workers killed at random, a worker
 * paused past its lease (fencing), a job that kills its worker, timeouts with forked
 * children, output floods, forced and graceful stops, stale records and two hosts.
 */
import assert from "node:assert/strict";
import {
  cli,
  cliJson,
  cliSpawn,
  killPid,
  type Spawned,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import {
  alive,
  groupMembers,
  jobGroupsOf,
  killProcessesOf,
  peakMemoryBytes,
} from "../_helpers/procs.ts";
import { attemptList, jobList } from "../../lib/store/jobs.ts";
import { workerList, workerPut } from "../../lib/store/workers.ts";
import { testStore } from "../_helpers/store_mode.ts";

/**
 * The sizes of the two big drains. On a KV Connect server every store call is an HTTP
 * request to a server in this test's process tree, so the second pass runs them smaller
 * (the same races, fewer rounds) to keep the suite's time in bounds.
 */
const REMOTE = testStore() === "kv_connect";
const CHAOS_JOBS = REMOTE ? 200 : 500;
const MANY_JOBS = REMOTE ? 600 : 2000;

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  worker_id: string | null;
  last_error: string | null;
  updated_at: string;
}
interface AttemptJson {
  attempt: number;
  worker_id: string;
  outcome: { kind: string };
  error: string | null;
  exit_code: number | null;
  output_tail: string;
}
interface ShowJson extends JobJson {
  history: AttemptJson[];
}
interface StatusJson {
  counts: Record<string, number>;
  workers: { id: string; pid: number; host: string }[];
}
interface Started {
  id: string;
  pid: number;
  log: string;
}
interface StopJson {
  id: string;
  host: string;
  outcome: string;
  requeued: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command that must succeed. */
async function ok(home: TempHome, args: string[], options: { stdin?: string } = {}) {
  const result = await cli(home, args, options);
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result;
}

/** Starts detached workers; their pids go into `pids` for the `finally` sweep. */
async function startWorkers(
  home: TempHome,
  pids: Set<number>,
  options: { count?: number; env?: Record<string, string>; args?: string[] } = {},
): Promise<Started[]> {
  const count = String(options.count ?? 1);
  const args = ["worker", "start", "--count", count, "--json", ...options.args ?? []];
  const result = await cli(home, args, { env: options.env });
  assert.equal(result.code, 0, `worker start: ${result.stderr}`);
  const started = JSON.parse(result.stdout) as Started[];
  for (const s of started) pids.add(s.pid);
  return started;
}

const show = (home: TempHome, id: string) => cliJson<ShowJson>(home, ["show", id]);
const status = (home: TempHome) => cliJson<StatusJson>(home, ["status"]);

/** Kills what a test started: its workers by pid, then anything naming its temp dir. */
async function cleanup(home: TempHome, pids: Iterable<number>, groups: Iterable<number> = []) {
  for (const pid of pids) killPid(pid);
  await killProcessesOf(home.home, groups);
  await home.cleanup();
}

/** Reads a pid a job wrote with `echo $$ > file` (its process group id). */
async function readPid(path: string): Promise<number> {
  await waitFor(async () => (await Deno.readTextFile(path).catch(() => "")).trim() !== "", {
    timeoutMs: 20_000,
    what: `${path} to be written`,
  });
  return Number((await Deno.readTextFile(path)).trim().split("\n")[0]);
}

/** Opens the test's KV file directly, for checks the CLI does not print. */
async function withKv<T>(home: TempHome, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await home.store.open();
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

Deno.test(`chaos: with a random worker SIGKILLed every 0.5 s, ${CHAOS_JOBS} jobs all complete, none runs more than twice, and every second run follows a lost lease`, async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  const groups = new Set<number>();
  let kv: Deno.Kv | null = null;
  try {
    const out = `${home.home}/ran.txt`;
    await ok(home, ["config", "set", "lease-seconds", "2"]);
    await ok(home, ["config", "set", "backoff-base", "1"]);
    const n = CHAOS_JOBS;
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    const lines = ids.map((id) =>
      JSON.stringify({ id, command: `sleep 0.05; echo ${id} >> ${out}`, max_retries: 9 })
    );
    await ok(home, ["enqueue", "-"], { stdin: lines.join("\n") });

    kv = await home.store.open();
    const store = kv;
    const live = new Map<number, string>(); // pid → worker id
    const add = (started: Started[]) => started.forEach((w) => live.set(w.pid, w.id));
    add(await startWorkers(home, pids, { count: 4, args: ["--separate"] }));
    let kills = 0;
    let done = false;
    const replacements: Promise<unknown>[] = [];
    // A victim is a random worker, except one holding a job that was already lost once:
    // every job meets at most one fault, so any third run would be a bug, not bad luck.
    // The victim is frozen (SIGSTOP) before its jobs are read, so that it cannot finish
    // one and claim another between the read and the kill; a spared one is resumed.
    const holdsLostJob = async (id: string) =>
      (await jobList(store, { state: "processing" })).some((j) =>
        j.worker_id === id && j.attempts > 1
      );
    const pickVictim = async (): Promise<number | null> => {
      const order = [...live].sort(() => Math.random() - 0.5);
      for (const [pid, id] of order) {
        killPid(pid, "SIGSTOP");
        if (!await holdsLostJob(id)) return pid;
        killPid(pid, "SIGCONT");
      }
      return null;
    };
    const chaos = (async () => {
      while (!done) {
        await sleep(500); // the chaos cadence itself, not a wait for a condition
        const victim = done ? null : await pickVictim();
        if (victim === null) continue;
        for (const pgid of await jobGroupsOf(victim)) groups.add(pgid); // its orphaned jobs
        killPid(victim);
        live.delete(victim);
        kills++;
        replacements.push(startWorkers(home, pids).then(add));
      }
    })();
    try {
      await waitFor(async () => (await status(home)).counts.completed === n, {
        timeoutMs: 180_000,
        intervalMs: 300,
        what: `all ${n} jobs completed`,
      });
    } finally {
      done = true;
      await chaos;
      await Promise.allSettled(replacements);
    }
    for (const pid of pids) killPid(pid);
    // An orphaned job of a killed worker may still be appending: wait for every one.
    await waitFor(async () => {
      for (const g of groups) if ((await groupMembers(g)).length > 0) return false;
      return true;
    }, {
      timeoutMs: 20_000,
      what: "orphaned jobs of killed workers to end",
    });

    assert.ok(kills >= 4, `only ${kills} workers were killed`);
    const ran = new Map<string, number>();
    for (const line of (await Deno.readTextFile(out)).split("\n")) {
      if (line) ran.set(line, (ran.get(line) ?? 0) + 1);
    }
    assert.deepEqual([...ran.keys()].sort(), [...ids].sort(), "every id ran");
    let lostTotal = 0;
    for (const id of ids) {
      const times = ran.get(id)!;
      const history = await attemptList(store, id);
      const lost = history.filter((a) => a.outcome.kind === "lost").length;
      lostTotal += lost;
      const story = JSON.stringify(history.map((a) => [a.worker_id, a.outcome.kind]));
      assert.ok(times <= 2, `${id} ran ${times} times: ${story}`);
      assert.ok(times <= 1 + lost, `${id} ran ${times} times with ${lost} lost: ${story}`);
    }
    assert.ok(lostTotal >= 1, `no attempt was lost in ${kills} kills`);
    const final = await status(home);
    assert.equal(final.counts.completed, n);
    assert.equal(final.counts.dead, 0);
    console.log(
      `chaos: ${kills} workers killed, ${lostTotal} attempts lost, ` +
        `${[...ran.values()].filter((t) => t === 2).length} jobs ran twice`,
    );
  } finally {
    kv?.close();
    await cleanup(home, pids, groups);
  }
});

Deno.test(`${MANY_JOBS.toLocaleString("en-US")} short jobs on 8 workers: each runs exactly once`, async () => {
  const home = await tempHome();
  const workers: Spawned[] = [];
  try {
    const out = `${home.home}/ran.txt`;
    const n = MANY_JOBS;
    const lines = Array.from(
      { length: n },
      (_, i) => JSON.stringify({ id: `d${i}`, command: `echo d${i} >> ${out}` }),
    );
    await ok(home, ["enqueue", "-"], { stdin: lines.join("\n") });
    for (let i = 0; i < 8; i++) workers.push(cliSpawn(home, ["worker", "run", "--drain"]));
    const exits = Promise.all(workers.map((w) => w.child.status));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error("drain took over 200 s")), 200_000)
    );
    try {
      const statuses = await Promise.race([exits, late]);
      assert.deepEqual(statuses.map((s) => s.code), Array(8).fill(0));
    } finally {
      clearTimeout(timer);
    }
    const ran = (await Deno.readTextFile(out)).trim().split("\n");
    assert.equal(new Set(ran).size, n, "every job ran");
    assert.equal(ran.length, n, "no job ran twice");
    assert.equal((await status(home)).counts.completed, n);
  } finally {
    for (const w of workers) await w.kill();
    await cleanup(home, []);
  }
});

Deno.test("fencing: a worker paused (SIGSTOP) past its lease cannot overwrite the result of the worker that took the job over", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  try {
    await ok(home, ["config", "set", "lease-seconds", "2"]);
    await ok(home, ["config", "set", "backoff-base", "1"]);
    const marker = `${home.home}/marker`;
    const pidFile = `${home.home}/pids`;
    // The first run fails after 4 s (exit 3); any later run succeeds at once.
    const command = `echo $$ >> ${pidFile}; if [ -e ${marker} ]; then echo second; exit 0; fi; ` +
      `touch ${marker}; sleep 4; echo first; exit 3`;
    await ok(home, ["enqueue", JSON.stringify({ id: "f", command, max_retries: 3 })]);
    const [a] = await startWorkers(home, pids);
    await waitFor(async () => (await show(home, "f")).worker_id === a.id, {
      timeoutMs: 20_000,
      what: "worker A to claim the job",
    });
    const firstRun = await readPid(pidFile);
    killPid(a.pid, "SIGSTOP");
    const [b] = await startWorkers(home, pids);
    await waitFor(async () => (await show(home, "f")).state === "completed", {
      timeoutMs: 30_000,
      what: "worker B to complete the job",
    });
    // A's own run ends (exit 3) while A is paused: A will see that result when it resumes.
    await waitFor(async () => (await groupMembers(firstRun)).length === 0, {
      timeoutMs: 20_000,
      what: "A's run of the job to end",
    });
    const before = await show(home, "f");
    assert.deepEqual(
      before.history.map((h) => [h.worker_id, h.outcome.kind, h.exit_code]),
      [[a.id, "lost", null], [b.id, "exited", 0]],
    );
    killPid(a.pid, "SIGCONT");
    await waitFor(async () => /f: result discarded/.test(await Deno.readTextFile(a.log)), {
      timeoutMs: 20_000,
      what: "worker A to discard its result",
    });
    assert.deepEqual(await show(home, "f"), before, "A's late result changed nothing");
    assert.ok(await alive(a.pid), "worker A carries on after being fenced");
  } finally {
    for (const pid of pids) killPid(pid, "SIGCONT");
    await cleanup(home, pids);
  }
});

Deno.test("a job that SIGKILLs its own worker is retried after its lease and ends in the DLQ with 'worker lost'", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["config", "set", "lease-seconds", "1"]);
    await ok(home, ["config", "set", "backoff-base", "1"]);
    await ok(home, ["enqueue", '{"id":"killer","command":"kill -9 $PPID","max_retries":1}']);
    const first = await cli(home, ["worker", "run", "--drain"]);
    assert.notEqual(first.code, 0, "the worker was killed");
    // No worker runs now: `list` alone finds the lapsed lease, so what it shows is true.
    await waitFor(async () => {
      const [job] = await cliJson<JobJson[]>(home, ["list"]);
      return job.state === "failed";
    }, { timeoutMs: 15_000, what: "the lost attempt to be noticed" });
    const second = await cli(home, ["worker", "run", "--drain"]);
    assert.notEqual(second.code, 0, "the retry killed its worker too");
    await waitFor(async () => (await status(home)).counts.dead === 1, {
      timeoutMs: 15_000,
      what: "the job to be buried",
    });
    const job = await show(home, "killer");
    assert.equal(job.state, "dead");
    assert.equal(job.attempts, 2);
    assert.match(job.last_error ?? "", /^worker lost/);
    assert.deepEqual(job.history.map((h) => h.outcome.kind), ["lost", "lost"]);
    assert.deepEqual((await cliJson<JobJson[]>(home, ["dlq", "list"])).map((j) => j.id), [
      "killer",
    ]);
  } finally {
    await cleanup(home, []);
  }
});

Deno.test("timeout: SIGTERM then SIGKILL reach the job's whole process group, forked children and TERM-ignoring ones too; config job-timeout applies", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  const groups: number[] = [];
  try {
    await ok(home, ["config", "set", "job-timeout", "1"]);
    const forks = "sleep 100 & sleep 100; wait";
    const jobs = {
      plain: { command: `echo $$ > ${home.home}/plain; ${forks}`, timeout: 1 },
      deaf: { command: `trap '' TERM; echo $$ > ${home.home}/deaf; ${forks}`, timeout: 1 },
      configured: { command: `echo $$ > ${home.home}/configured; ${forks}` },
    };
    for (const [id, spec] of Object.entries(jobs)) {
      await ok(home, ["enqueue", JSON.stringify({ id, ...spec, max_retries: 0 })]);
    }
    // A started worker runs with the narrow permissions (it signals through `sh -c kill`).
    await startWorkers(home, pids, { args: ["--concurrency", "3"] });
    await waitFor(async () => (await status(home)).counts.dead === 3, {
      timeoutMs: 30_000,
      what: "every job to time out",
    });
    for (const id of Object.keys(jobs)) {
      const pgid = await readPid(`${home.home}/${id}`);
      groups.push(pgid);
      const job = await show(home, id);
      assert.equal(job.state, "dead", id);
      assert.equal(job.last_error, "timeout: killed after 1s", id);
      assert.equal(job.history[0].outcome.kind, "timeout", id);
      assert.deepEqual(await groupMembers(pgid), [], `no process of ${id}'s group is left`);
    }
  } finally {
    await cleanup(home, pids, groups);
  }
});

Deno.test("output limits: 200 MB of output keeps the log within max-log-bytes (head and tail), the worker alive and small, and the tail in KV; binary output is kept byte for byte", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  try {
    const cap = 1024 * 1024;
    await ok(home, ["config", "set", "max-log-bytes", String(cap)]);
    const [worker] = await startWorkers(home, pids);
    const total = 17 * 11_764_706; // 200 MB of whole 17-byte lines
    await ok(home, [
      "enqueue",
      JSON.stringify({
        id: "flood",
        command: `yes 0123456789abcdef | head -c ${total}; printf 'END-OF-FLOOD\\n'`,
      }),
    ]);
    await waitFor(async () => (await show(home, "flood")).state === "completed", {
      timeoutMs: 150_000,
      intervalMs: 250,
      what: "the flood job to complete",
    });
    const logPath = `${home.home}/logs/flood/1.out`;
    const size = (await Deno.stat(logPath)).size;
    assert.ok(size <= cap / 2 + 100, `the .out log holds ${size} bytes`);
    const log = await Deno.readTextFile(logPath);
    assert.ok(log.startsWith("0123456789abcdef\n0123456789abcdef\n"), "the head is kept");
    assert.ok(log.endsWith("0123456789abcdef\nEND-OF-FLOOD\n"), "the tail is kept");
    const omitted = Number(/\[queuectl: (\d+) bytes of output omitted\]/.exec(log)?.[1]);
    assert.ok(omitted > total - cap, `marker says ${omitted} bytes omitted`);
    const job = await show(home, "flood");
    const tail = job.history[0].output_tail;
    assert.ok(tail.endsWith("END-OF-FLOOD\n"), "the KV tail ends with the last output");
    assert.ok(tail.length <= 16 * 1024, `KV tail of ${tail.length} chars`);
    assert.ok(await alive(worker.pid), "the worker is alive");
    const peak = await peakMemoryBytes(worker.pid);
    assert.ok(peak === null || peak < 150 * 1024 * 1024, `worker peak memory ${peak} bytes`);

    // Binary and invalid UTF-8 output: the log keeps the bytes, the KV tail is readable.
    await ok(home, [
      "enqueue",
      JSON.stringify({
        id: "binary",
        command: String.raw`printf '\377\376\000bin\n\303\251\n'; printf '\200err' >&2`,
      }),
    ]);
    await waitFor(async () => (await show(home, "binary")).state === "completed", {
      timeoutMs: 30_000,
      what: "the binary job to complete",
    });
    assert.deepEqual(
      [...await Deno.readFile(`${home.home}/logs/binary/1.out`)],
      [0xff, 0xfe, 0x00, 0x62, 0x69, 0x6e, 0x0a, 0xc3, 0xa9, 0x0a],
    );
    assert.deepEqual([...await Deno.readFile(`${home.home}/logs/binary/1.err`)], [
      0x80,
      0x65,
      0x72,
      0x72,
    ]);
    const binaryTail = (await show(home, "binary")).history[0].output_tail;
    assert.match(binaryTail, /\uFFFD/);
    assert.match(binaryTail, /bin\n/);
    assert.match(binaryTail, /é/);
    assert.ok(await alive(worker.pid), "the same worker ran both jobs");
  } finally {
    await cleanup(home, pids);
  }
});

Deno.test("worker stop --force kills the job's process group and the worker, and puts the job back to pending at once without counting the attempt", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  const groups: number[] = [];
  try {
    const [worker] = await startWorkers(home, pids);
    const command = `echo $$ > ${home.home}/pg; sleep 100 & sleep 100; wait`;
    await ok(home, ["enqueue", JSON.stringify({ id: "long", command })]);
    await waitFor(async () => (await show(home, "long")).state === "processing", {
      timeoutMs: 20_000,
      what: "the job to start",
    });
    const pgid = await readPid(`${home.home}/pg`);
    groups.push(pgid);
    const stop = await cliJson<StopJson[]>(home, ["worker", "stop", "--force"]);
    assert.deepEqual(stop.map((s) => [s.id, s.outcome, s.requeued]), [
      [worker.id, "killed", ["long"]],
    ]);
    const job = await show(home, "long");
    assert.equal(job.state, "pending", "back to pending at once, not after a lease");
    assert.equal(job.attempts, 0, "the interrupted run does not count");
    assert.equal(job.worker_id, null);
    assert.ok(!await alive(worker.pid), "the worker is gone");
    assert.deepEqual(await groupMembers(pgid), [], "the job's processes are gone");
    assert.deepEqual((await status(home)).workers, []);
  } finally {
    await cleanup(home, pids, groups);
  }
});

Deno.test("worker stop --timeout waits for the running job, then stops by force and requeues it", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  const groups: number[] = [];
  try {
    const [worker] = await startWorkers(home, pids);
    await ok(home, [
      "enqueue",
      JSON.stringify({ id: "slow", command: `echo $$ > ${home.home}/pg; sleep 100` }),
    ]);
    await waitFor(async () => (await show(home, "slow")).state === "processing", {
      timeoutMs: 20_000,
      what: "the job to start",
    });
    groups.push(await readPid(`${home.home}/pg`));
    const began = Date.now();
    const stop = await cliJson<StopJson[]>(home, ["worker", "stop", "--timeout", "1"]);
    assert.ok(Date.now() - began >= 1000, "it waited for the timeout");
    assert.deepEqual(stop.map((s) => [s.id, s.outcome, s.requeued]), [
      [worker.id, "killed", ["slow"]],
    ]);
    const job = await show(home, "slow");
    assert.equal(job.state, "pending");
    assert.equal(job.attempts, 0);
    assert.deepEqual(await groupMembers(groups[0]), []);
  } finally {
    await cleanup(home, pids, groups);
  }
});

Deno.test("SIGTERM stops a worker gracefully: the running job finishes and the record is removed", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  try {
    const [worker] = await startWorkers(home, pids);
    // The job runs until the test opens its gate: surely still running when SIGTERM lands.
    const gate = `${home.home}/gate`;
    const command = `while [ ! -e ${gate} ]; do sleep 0.05; done; echo finished`;
    await ok(home, ["enqueue", JSON.stringify({ id: "g", command })]);
    await waitFor(async () => (await show(home, "g")).state === "processing", {
      timeoutMs: 20_000,
      what: "the job to start",
    });
    killPid(worker.pid, "SIGTERM");
    await waitFor(async () => /received SIGTERM/.test(await Deno.readTextFile(worker.log)), {
      timeoutMs: 20_000,
      what: "the worker to take the signal",
    });
    assert.equal((await show(home, "g")).state, "processing", "the job was not stopped");
    assert.ok(await alive(worker.pid), "the worker waits for its running job");
    await Deno.writeTextFile(gate, "");
    await waitFor(async () => !await alive(worker.pid), {
      timeoutMs: 20_000,
      what: "the worker to exit",
    });
    const job = await show(home, "g");
    assert.equal(job.state, "completed", "the job ran to its end");
    assert.equal(job.history[0].output_tail, "finished\n");
    assert.match(await Deno.readTextFile(worker.log), /received SIGTERM/);
    await withKv(home, async (kv) => assert.deepEqual(await workerList(kv), []));
  } finally {
    await cleanup(home, pids);
  }
});

Deno.test("a worker told to stop while a job runs claims no next one in that job's finishing commit: the queued job stays untouched", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  try {
    // The first job stops its own worker ($PPID: the job's shell is the worker's child).
    const specs = [
      { id: "first", command: "kill -TERM $PPID; sleep 0.3" },
      { id: "second", command: "true" },
    ];
    await ok(home, ["enqueue", "-"], { stdin: specs.map((j) => JSON.stringify(j)).join("\n") });
    const [worker] = await startWorkers(home, pids);
    await waitFor(async () => !await alive(worker.pid), {
      timeoutMs: 20_000,
      what: "the worker to exit",
    });
    assert.equal((await show(home, "first")).state, "completed");
    const second = await show(home, "second");
    assert.equal(second.state, "pending");
    assert.equal(second.attempts, 0);
    assert.deepEqual(second.history, [], "never claimed, never run");
  } finally {
    await cleanup(home, pids);
  }
});

Deno.test("a SIGKILLed worker: status and worker start remove its stale record, and status alone returns its job after the lease", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  const groups: number[] = [];
  try {
    await ok(home, ["config", "set", "lease-seconds", "1"]);
    const [first] = await startWorkers(home, pids);
    await ok(home, [
      "enqueue",
      JSON.stringify({ id: "orphan", command: `echo $$ > ${home.home}/pg; sleep 100` }),
    ]);
    await waitFor(async () => (await show(home, "orphan")).state === "processing", {
      timeoutMs: 20_000,
      what: "the job to start",
    });
    groups.push(await readPid(`${home.home}/pg`));
    killPid(first.pid);
    await waitFor(async () => !await alive(first.pid), { timeoutMs: 10_000, what: "the kill" });
    killPid(-groups[0]); // the orphaned job: what the lease protects against is its worker
    // `worker start` cleans the stale record before starting (read straight from the store).
    const [second] = await startWorkers(home, pids);
    await withKv(home, async (kv) => {
      assert.deepEqual((await workerList(kv)).map((w) => w.id), [second.id]);
    });
    killPid(second.pid);
    await waitFor(async () => !await alive(second.pid), { timeoutMs: 10_000, what: "the kill" });
    // `status` on the worker's own host cleans its record too, and expires the job's lease.
    assert.deepEqual((await status(home)).workers, []);
    await waitFor(async () => {
      const s = await status(home);
      return s.counts.processing === 0 && s.counts.failed === 1;
    }, { timeoutMs: 15_000, what: "status to return the job" });
    const job = await show(home, "orphan");
    assert.equal(job.history[0].outcome.kind, "lost");
    assert.equal(job.history[0].worker_id, first.id);
    assert.match(job.last_error ?? "", /^worker lost/);
  } finally {
    await cleanup(home, pids, groups);
  }
});

Deno.test("two hosts on one store: a stop from another host goes through the store, never a signal, and records are judged by pid only on their own host", async () => {
  const home = await tempHome();
  const pids = new Set<number>();
  const groups: number[] = [];
  const bystander = new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" })
    .spawn();
  const onA = { env: { QUEUECTL_HOSTNAME: "host-a" } };
  const fromB = (args: string[]) =>
    cli(home, [...args, "--json"], { env: { QUEUECTL_HOSTNAME: "host-b" } });
  try {
    // A graceful stop from host B reaches host A's worker through its stop request.
    const [a1] = await startWorkers(home, pids, onA);
    const graceful = await fromB(["worker", "stop"]);
    assert.equal(graceful.code, 0, graceful.stderr);
    assert.deepEqual(
      (JSON.parse(graceful.stdout) as StopJson[]).map((s) => [s.id, s.host, s.outcome]),
      [[a1.id, "host-a", "stopped"]],
    );
    await waitFor(async () => !await alive(a1.pid), {
      timeoutMs: 10_000,
      what: "worker A to exit",
    });
    const log = await Deno.readTextFile(a1.log);
    assert.match(log, /stop requested through the store/);
    assert.doesNotMatch(log, /received SIG/, "no signal crossed hosts");

    // A forced stop from host B: A kills its own job and puts it back at once.
    const [a2] = await startWorkers(home, pids, onA);
    const command = `echo $$ > ${home.home}/pg; sleep 100`;
    await ok(home, ["enqueue", JSON.stringify({ id: "remote", command })]);
    await waitFor(async () => (await show(home, "remote")).state === "processing", {
      timeoutMs: 20_000,
      what: "the job to start on host A",
    });
    groups.push(await readPid(`${home.home}/pg`));
    const forced = await fromB(["worker", "stop", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual((JSON.parse(forced.stdout) as StopJson[]).map((s) => s.outcome), [
      "stopped",
    ]);
    await waitFor(async () => !await alive(a2.pid), {
      timeoutMs: 10_000,
      what: "worker A to exit",
    });
    const job = await show(home, "remote");
    assert.equal(job.state, "pending");
    assert.equal(job.attempts, 0);
    assert.deepEqual(await groupMembers(groups[0]), []);

    // A record of host C holding the pid of a live process here, and one with a dead pid.
    const now = new Date().toISOString();
    const record = (id: string, pid: number) => ({
      id,
      pid,
      host: "host-c",
      started_at: now,
      heartbeat_at: now,
      concurrency: 1,
      queues: null,
    });
    await withKv(home, async (kv) => {
      await workerPut(kv, record("w-remote-live", bystander.pid));
      await workerPut(kv, record("w-remote-gone", 2 ** 22 + 1));
    });
    const listed = await cliJson<StatusJson>(home, ["status"]);
    assert.deepEqual(listed.workers.map((w) => w.id).sort(), ["w-remote-gone", "w-remote-live"]);
    const local = await cli(home, ["worker", "stop", "--force", "--no-wait", "--json"]);
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual(
      (JSON.parse(local.stdout) as StopJson[]).map((s) => [s.id, s.outcome]).sort(),
      [["w-remote-gone", "requested"], ["w-remote-live", "requested"]],
    );
    assert.ok(
      await alive(bystander.pid),
      "a process named by another host's record is not signalled",
    );
    // On host C itself the dead pid shows the record is stale.
    const onC = await cli(home, ["status", "--json"], { env: { QUEUECTL_HOSTNAME: "host-c" } });
    assert.deepEqual(
      (JSON.parse(onC.stdout) as StatusJson).workers.map((w) => w.id),
      ["w-remote-live"],
    );
  } finally {
    killPid(bystander.pid);
    await bystander.status;
    await cleanup(home, pids, groups);
  }
});
