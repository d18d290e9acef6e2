import assert from "node:assert/strict";
import {
  cli,
  cliCommand,
  cliJson,
  cliSpawn,
  killPid,
  type Spawned,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";

interface Job {
  id: string;
  state: string;
  attempts: number;
  last_error: string | null;
  dead_reason: string | null;
  waiting_on: string[];
  label: string | null;
}
interface Status {
  counts: Record<string, number>;
  paused_queues: string[];
}

Deno.test("e2e: two concurrent enqueues with one unique key: exactly one wins (50 trials)", async () => {
  const home = await tempHome();
  try {
    const [cmd, ...pre] = cliCommand();
    const run = (key: string) =>
      new Deno.Command(cmd, {
        args: [...pre, "enqueue", "--unique-key", key, "true"],
        env: home.env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    for (let trial = 0; trial < 50; trial++) {
      const key = `key-${trial}`;
      const [a, b] = await Promise.all([run(key), run(key)]);
      const codes = [a.code, b.code].sort();
      assert.deepEqual(codes, [0, 2], `trial ${trial}: exit codes ${codes}`);
      const loser = a.code === 2 ? a : b;
      assert.match(new TextDecoder().decode(loser.stderr), /Unique key "key-\d+" is held/);
    }
    const status = await cliJson<Status>(home, ["status"]);
    assert.equal(status.counts.pending, 50);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a unique key is free again once its job finished; --unique-skip prints the holder", async () => {
  const home = await tempHome();
  try {
    assert.equal(
      (await cli(home, ["enqueue", "--id", "first", "--unique-key", "nightly", "true"])).stdout,
      "first\n",
    );
    const skip = await cli(home, ["enqueue", "--unique-key", "nightly", "--unique-skip", "true"]);
    assert.equal(skip.code, 0);
    assert.equal(skip.stdout, "first\n", "the existing job's id");
    const dup = await cli(home, [
      "enqueue",
      JSON.stringify({ command: "true", unique_key: "nightly" }),
    ]);
    assert.equal(dup.code, 2);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 0);
    const again = await cli(home, ["enqueue", "--id", "second", "--unique-key", "nightly", "true"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, "second\n");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a queue capped at 2 never runs more than 2 of its jobs with 6 workers", async () => {
  const home = await tempHome();
  const pids: number[] = [];
  try {
    const log = `${home.home}/times.txt`;
    assert.equal((await cli(home, ["queue", "set", "capped", "--concurrency", "2"])).code, 0);
    const lines = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({
        id: `c${i}`,
        queue: "capped",
        command: `echo "start $(date +%s%N) c${i}" >> ${log}; sleep 0.3; ` +
          `echo "end $(date +%s%N) c${i}" >> ${log}`,
      }));
    // Jobs of another queue run meanwhile: the cap is per queue.
    for (let i = 0; i < 4; i++) {
      lines.push(JSON.stringify({ id: `free${i}`, command: "sleep 0.3" }));
    }
    assert.equal((await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") })).code, 0);
    const started = await cliJson<{ pid: number }[]>(home, ["worker", "start", "--count", "6"]);
    pids.push(...started.map((s) => s.pid));
    await waitFor(async () => (await cliJson<Status>(home, ["status"])).counts.completed === 16, {
      timeoutMs: 60_000,
      what: "all jobs to complete",
    });
    const events = (await Deno.readTextFile(log)).trim().split("\n").map((line) => {
      const [kind, ns] = line.split(" ");
      return { t: BigInt(ns), delta: kind === "start" ? 1 : -1 };
    }).sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.delta - b.delta));
    let running = 0, most = 0;
    for (const e of events) {
      running += e.delta;
      most = Math.max(most, running);
    }
    assert.equal(events.length, 24);
    assert.equal(most, 2, `at most 2 at once (and the cap is used): saw ${most}`);
  } finally {
    await cli(home, ["worker", "stop", "--force"]);
    for (const pid of pids) killPid(pid);
    await home.cleanup();
  }
});

Deno.test("e2e: a chain of 50 dependent jobs completes in order", async () => {
  const home = await tempHome();
  try {
    const out = `${home.home}/order.txt`;
    const lines = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({
        id: `step${i}`,
        command: `echo step${i} >> ${out}`,
        ...(i > 0 ? { after: [`step${i - 1}`] } : {}),
      }));
    // Enqueued newest first, so FIFO alone would run them backwards.
    const enq = await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") });
    assert.equal(enq.code, 0, enq.stderr);
    const status = await cliJson<Status>(home, ["status"]);
    assert.equal(status.counts.blocked, 49);
    const run = await cli(home, ["worker", "run", "--drain", "--concurrency", "4"]);
    assert.equal(run.code, 0, run.stderr);
    const ran = (await Deno.readTextFile(out)).trim().split("\n");
    assert.deepEqual(ran, Array.from({ length: 50 }, (_, i) => `step${i}`));
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a dependency that ends dead cancels its dependents, unless --after-any", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "--id", "parent", "--max-retries", "0", "exit 1"]);
    await cli(home, ["enqueue", "--id", "child", "--after", "parent", "true"]);
    await cli(home, ["enqueue", "--id", "grandchild", "--after", "child", "true"]);
    await cli(home, ["enqueue", "--id", "cleanup", "--after", "parent", "--after-any", "true"]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    const child = await cliJson<Job>(home, ["show", "child"]);
    assert.equal(child.state, "cancelled");
    assert.equal(child.last_error, 'dependency "parent" ended dead');
    assert.equal((await cliJson<Job>(home, ["show", "grandchild"])).state, "cancelled");
    assert.equal((await cliJson<Job>(home, ["show", "cleanup"])).state, "completed");
    const late = await cli(home, [
      "enqueue",
      "--id",
      "late",
      "--after",
      "parent",
      "true",
      "--json",
    ]);
    assert.equal(JSON.parse(late.stdout).state, "cancelled", "a dead dependency cancels at once");
    const missing = await cli(home, ["enqueue", "--after", "nosuch", "true"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Unknown dependency "nosuch"/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: pause holds new claims while a running job finishes; resume releases them", async () => {
  const home = await tempHome();
  let worker: Spawned | undefined;
  try {
    const gate = `${home.home}/gate`;
    await cli(home, ["enqueue", "--id", "running", `while [ ! -f ${gate} ]; do sleep 0.05; done`]);
    worker = cliSpawn(home, ["worker", "run"]);
    await waitFor(
      async () => (await cliJson<Job>(home, ["show", "running"])).state === "processing",
      {
        timeoutMs: 15_000,
        what: "the first job to start",
      },
    );
    assert.equal((await cli(home, ["pause"])).code, 0);
    await cli(home, ["enqueue", "--id", "held", "true"]);
    await Deno.writeTextFile(gate, "");
    await waitFor(
      async () => (await cliJson<Job>(home, ["show", "running"])).state === "completed",
      {
        timeoutMs: 15_000,
        what: "the running job to finish while paused",
      },
    );
    // The idle worker polls every 100 ms or faster: a second gives it ten chances to claim.
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      assert.equal((await cliJson<Job>(home, ["show", "held"])).state, "pending");
    }
    const status = await cliJson<Status>(home, ["status"]);
    assert.deepEqual(status.paused_queues, ["*"]);
    assert.equal((await cli(home, ["resume"])).code, 0);
    await waitFor(async () => (await cliJson<Job>(home, ["show", "held"])).state === "completed", {
      timeoutMs: 15_000,
      what: "the held job to run after resume",
    });
  } finally {
    await worker?.kill("SIGTERM");
    await home.cleanup();
  }
});

Deno.test("e2e: pausing one queue leaves the others running", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["pause", "--create", "slow"]);
    await cli(home, ["enqueue", "--id", "s", "--queue", "slow", "true"]);
    await cli(home, ["enqueue", "--id", "f", "--queue", "fast", "true"]);
    const run = await cli(home, ["worker", "run", "--drain", "--queue", "fast"]);
    assert.equal(run.code, 0);
    assert.equal((await cliJson<Job>(home, ["show", "f"])).state, "completed");
    assert.equal((await cliJson<Job>(home, ["show", "s"])).state, "pending");
    const queues = await cliJson<{ queues: { name: string; paused: boolean }[] }>(home, [
      "queue",
      "list",
    ]);
    assert.deepEqual(queues.queues.map((q) => [q.name, q.paused]), [["fast", false], [
      "slow",
      true,
    ]]);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: exit-code policy: fail_fast_on goes to the DLQ at once, retry_on retries only those", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["config", "set", "backoff-base", "1"]);
    const marker = `${home.home}/seen`;
    const jobs = [
      { id: "bad-input", command: "exit 2", fail_fast_on: [2] },
      { id: "not-listed", command: "exit 3", retry_on: [75] },
      // Exits 75 (temporary) the first time, then succeeds: retried.
      {
        id: "temporary",
        command: `test -f ${marker} || { touch ${marker}; exit 75; }`,
        retry_on: [75],
      },
    ];
    await cli(home, ["enqueue", "-"], { stdin: jobs.map((j) => JSON.stringify(j)).join("\n") });
    await cli(home, ["queue", "set", "strict", "--fail-fast-on", "4"]);
    await cli(home, ["enqueue", "--id", "queue-policy", "--queue", "strict", "exit 4"]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    for (const id of ["bad-input", "not-listed", "queue-policy"]) {
      const job = await cliJson<Job>(home, ["show", id]);
      assert.equal(job.state, "dead", id);
      assert.equal(job.attempts, 1, `${id} was not retried`);
      assert.equal(job.dead_reason, "fail_fast");
    }
    const temporary = await cliJson<Job>(home, ["show", "temporary"]);
    assert.equal(temporary.state, "completed");
    assert.equal(temporary.attempts, 2);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a job that keeps killing its worker is quarantined as crashed", async () => {
  const home = await tempHome();
  const spawned: Spawned[] = [];
  try {
    await cli(home, ["config", "set", "lease-seconds", "1"]);
    await cli(home, ["config", "set", "max-lost", "2"]);
    await cli(home, ["config", "set", "backoff-base", "1"]);
    // sh's parent is the worker: the job kills it outright.
    await cli(home, ["enqueue", "--id", "killer", "--max-retries", "10", "kill -9 $PPID"]);
    await cli(home, ["enqueue", "--id", "fine", "true"]);
    for (let round = 0; round < 6; round++) {
      const job = await cliJson<Job>(home, ["show", "killer"]);
      if (job.state === "dead") break;
      const worker = cliSpawn(home, ["worker", "run", "--drain"]);
      spawned.push(worker);
      await worker.child.status;
      // The lease lapses a second later; status runs the rescuer.
      await waitFor(async () => {
        await cli(home, ["status"]); // runs the rescuer
        const s = await cliJson<Job>(home, ["show", "killer"]);
        return s.state !== "processing";
      }, { timeoutMs: 10_000, what: "the lost lease to be noticed" });
    }
    const job = await cliJson<Job>(home, ["show", "killer"]);
    assert.equal(job.state, "dead");
    assert.equal(job.dead_reason, "crashed");
    assert.equal(job.attempts, 2, "quarantined after max-lost runs, not max_retries");
    assert.match(job.last_error ?? "", /crashed: its worker was lost 2 times/);
    const status = await cliJson<Status>(home, ["status"]);
    assert.equal(status.counts.crashed, 1);
    assert.equal(status.counts.dead, 1);
  } finally {
    for (const w of spawned) await w.kill();
    await home.cleanup();
  }
});

Deno.test("e2e: labels are shown and filter lists; explain-backoff prints the timeline", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "--id", "l1", "--label", "nightly", "true"]);
    await cli(home, ["enqueue", "--id", "l2", "--label", "adhoc", "true"]);
    const nightly = await cliJson<Job[]>(home, ["list", "--label", "nightly"]);
    assert.deepEqual(nightly.map((j) => j.id), ["l1"]);
    // Piped, `list` prints tab-separated rows: id, state, runs, command, label, updated, note.
    assert.match((await cli(home, ["list"])).stdout, /^l1\tpending\t0\/4\ttrue\tnightly\t/m);
    await cli(home, ["config", "set", "backoff-base", "3"]);
    await cli(home, ["config", "set", "max-backoff", "20"]);
    const timeline = await cliJson<
      { retries: { retry: number; delay: number; cumulative: number }[] }
    >(
      home,
      ["config", "explain-backoff"],
    );
    assert.deepEqual(timeline.retries, [
      { retry: 1, delay: 3, cumulative: 3 },
      { retry: 2, delay: 9, cumulative: 12 },
      { retry: 3, delay: 20, cumulative: 32 },
    ]);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: resume with no queue also resumes queues paused one by one; --no-concurrency lifts a cap", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["pause", "--create", "a"]);
    await cli(home, ["pause", "--create", "b"]);
    await cli(home, ["queue", "set", "a", "--concurrency", "1"]);
    let queues = await cliJson<
      { queues: { name: string; paused: boolean; concurrency: number | null }[] }
    >(
      home,
      ["queue", "list"],
    );
    assert.deepEqual(queues.queues.map((q) => [q.name, q.paused, q.concurrency]), [
      ["a", true, 1],
      ["b", true, null],
    ]);
    await cli(home, ["resume"]);
    await cli(home, ["queue", "set", "a", "--no-concurrency"]);
    queues = await cliJson(home, ["queue", "list"]);
    assert.deepEqual(queues.queues.map((q) => [q.name, q.paused, q.concurrency]), [
      ["a", false, null],
      ["b", false, null],
    ]);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a job with 60 dependents releases all of them (40 in its own commit, the rest after)", async () => {
  const home = await tempHome();
  try {
    const lines = [JSON.stringify({ id: "root", command: "true" })];
    for (let i = 0; i < 60; i++) {
      lines.push(JSON.stringify({ id: `leaf${i}`, command: "true", after: ["root"] }));
    }
    assert.equal((await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") })).code, 0);
    assert.equal((await cliJson<Status>(home, ["status"])).counts.blocked, 60);
    assert.equal((await cli(home, ["worker", "run", "--drain", "--concurrency", "4"])).code, 0);
    const status = await cliJson<Status>(home, ["status"]);
    assert.equal(status.counts.completed, 61);
    assert.equal(status.counts.blocked, 0);
  } finally {
    await home.cleanup();
  }
});
