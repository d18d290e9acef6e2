import assert from "node:assert/strict";
import {
  cli,
  cliJson,
  cliSpawn,
  killPid,
  killWorkers,
  pidAlive,
  type Spawned,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { attemptKey, jobKey } from "../../lib/store/keys.ts";

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  max_retries: number;
  exit_code: number | null;
  last_error: string | null;
  next_run_at: string | null;
}
interface AttemptJson {
  attempt: number;
  started_at: string;
  finished_at: string;
  exit_code: number | null;
}
interface ShowJson extends JobJson {
  history: AttemptJson[];
}

Deno.test("e2e: a basic job completes and its output is kept", async () => {
  const home = await tempHome();
  try {
    const enq = await cli(home, ["enqueue", '{"id":"job1","command":"echo hello-from-job1"}']);
    assert.equal(enq.code, 0, enq.stderr);
    assert.equal(enq.stdout.trim(), "job1");
    const run = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(run.code, 0, run.stderr);
    const job = await cliJson<ShowJson>(home, ["show", "job1"]);
    assert.equal(job.state, "completed");
    assert.equal(job.attempts, 1);
    assert.equal(job.exit_code, 0);
    const log = await Deno.readTextFile(`${home.home}/logs/job1/1.out`);
    assert.equal(log, "hello-from-job1\n");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a failing job is retried with exponential backoff and ends in the DLQ", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["config", "set", "backoff-base", "1.5"]);
    const enq = await cli(home, ["enqueue", '{"id":"bad","command":"exit 7","max_retries":2}']);
    assert.equal(enq.code, 0, enq.stderr);
    const run = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(run.code, 1, "drain exits 1 when a job ended dead");
    const job = await cliJson<ShowJson>(home, ["show", "bad"]);
    assert.equal(job.state, "dead");
    assert.equal(job.attempts, 3, "max_retries 2 means 3 runs");
    assert.equal(job.history.length, 3);
    // The worker says when each retry is due (the next_run_at it stored): retry n is due
    // backoff_base ^ n seconds after run n finished (1.5 s, then 2.25 s), and does not start
    // before. Checked against the recorded times, not against how fast the worker was.
    const due = [...run.stderr.matchAll(/ bad failed .*; retry at (\S+)$/gm)].map((m) => m[1]);
    assert.equal(due.length, 2, run.stderr);
    for (const [i, delayMs] of [[0, 1500], [1, 2250]]) {
      const finished = Date.parse(job.history[i].finished_at);
      assert.equal(Date.parse(due[i]) - finished, delayMs, `retry ${i + 1} is due after`);
      const started = Date.parse(job.history[i + 1].started_at);
      assert.ok(started >= Date.parse(due[i]), `run ${i + 2} started ${due[i]} or later`);
    }
    for (const a of job.history) assert.equal(a.exit_code, 7);
    const dlq = await cliJson<JobJson[]>(home, ["dlq", "list"]);
    assert.deepEqual(dlq.map((j) => j.id), ["bad"]);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: dlq retry puts a dead job back with attempts reset", async () => {
  const home = await tempHome();
  try {
    const marker = `${home.home}/second-time`;
    // Fails the first time, succeeds once the marker exists.
    const command = `test -f ${marker} || { touch ${marker}; exit 1; }`;
    await cli(home, ["enqueue", JSON.stringify({ id: "flaky", command, max_retries: 0 })]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    assert.equal((await cliJson<JobJson>(home, ["show", "flaky"])).state, "dead");
    const bare = await cli(home, ["dlq", "retry"]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /--all/);
    const retry = await cli(home, ["dlq", "retry", "flaky"]);
    assert.equal(retry.code, 0, retry.stderr);
    const pending = await cliJson<ShowJson>(home, ["show", "flaky"]);
    assert.equal(pending.state, "pending");
    assert.equal(pending.attempts, 0);
    assert.equal(pending.history.length, 1, "the earlier attempt stays on record");
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 0);
    assert.equal((await cliJson<JobJson>(home, ["show", "flaky"])).state, "completed");
    assert.deepEqual(await cliJson(home, ["dlq", "list"]), []);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a worker claims its next job in the very commit that records the last one", async () => {
  const home = await tempHome();
  let worker: Spawned | null = null;
  try {
    const gate = `${home.home}/go`;
    const specs = [
      { id: "first", command: "true" },
      { id: "second", command: `while [ ! -e ${gate} ]; do sleep 0.02; done` },
    ];
    const enq = await cli(home, ["enqueue", "-"], {
      stdin: specs.map((s) => JSON.stringify(s)).join("\n"),
    });
    assert.equal(enq.code, 0, enq.stderr);
    worker = cliSpawn(home, ["worker", "run", "--drain"]);
    await waitFor(
      async () => (await cliJson<JobJson>(home, ["show", "second"])).state === "processing",
      {
        timeoutMs: 20_000,
        what: "the second job to run",
      },
    );
    const kv = await home.store.open();
    try {
      // The attempt record of "first" is written by the commit that finished it.
      const attempt = await kv.get(attemptKey("first", 1));
      const second = await kv.get(jobKey("second"));
      assert.ok(attempt.versionstamp);
      assert.equal(second.versionstamp, attempt.versionstamp, "one commit for both");
    } finally {
      kv.close();
    }
    await Deno.writeTextFile(gate, "");
    assert.equal((await worker.child.status).code, 0);
    const done = await cliJson<JobJson>(home, ["show", "second"]);
    assert.equal(done.state, "completed");
  } finally {
    await worker?.kill();
    await home.cleanup();
  }
});

Deno.test("e2e: several workers process many jobs and no job runs twice", async () => {
  const home = await tempHome();
  const pids: number[] = [];
  try {
    const out = `${home.home}/ran.txt`;
    const n = 200;
    const lines = Array.from(
      { length: n },
      (_, i) => JSON.stringify({ id: `j${i}`, command: `echo j${i} >> ${out}` }),
    ).join("\n");
    const enq = await cli(home, ["enqueue", "-"], { stdin: lines });
    assert.equal(enq.code, 0, enq.stderr);
    const started = await cliJson<{ pid: number }[]>(home, [
      "worker",
      "start",
      "--count",
      "4",
      "--separate",
    ]);
    pids.push(...started.map((s) => s.pid));
    assert.equal(started.length, 4);
    await waitFor(async () => {
      const s = await cliJson<{ counts: { completed: number } }>(home, ["status"]);
      return s.counts.completed === n;
    }, { timeoutMs: 60_000, what: "all jobs completed" });
    const stop = await cli(home, ["worker", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    for (const pid of pids) {
      await waitFor(async () => !await pidAlive(pid), {
        timeoutMs: 10_000,
        what: `pid ${pid} to exit`,
      });
    }
    const ran = (await Deno.readTextFile(out)).trim().split("\n");
    assert.equal(ran.length, n, "each job ran exactly once");
    assert.equal(new Set(ran).size, n);
  } finally {
    for (const pid of pids) killPid(pid);
    await killWorkers(home);
    await home.cleanup();
  }
});

Deno.test("e2e: invalid commands fail gracefully and end in the DLQ", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", '{"id":"nope","command":"no-such-command-xyz","max_retries":0}']);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    const job = await cliJson<JobJson>(home, ["show", "nope"]);
    assert.equal(job.state, "dead");
    assert.equal(job.exit_code, 127);
    assert.match(job.last_error ?? "", /command not found/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: job data survives a restart of the workers", async () => {
  const home = await tempHome();
  const workers: ReturnType<typeof cliSpawn>[] = [];
  try {
    await cli(home, ["enqueue", '{"id":"done1","command":"true"}']);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 0);
    await cli(home, ["enqueue", '{"id":"later","command":"true","delay":"1h"}']);
    await cli(home, ["enqueue", '{"id":"waiting","command":"true"}']);
    // A worker that is killed outright, then a new one: nothing is lost.
    const first = cliSpawn(home, ["worker", "run", "--queue", "elsewhere"]);
    workers.push(first);
    await waitFor(async () => (await cliJson<unknown[]>(home, ["worker", "status"])).length === 1, {
      timeoutMs: 10_000,
      what: "worker registered",
    });
    await first.kill("SIGKILL");
    const list = await cliJson<JobJson[]>(home, ["list"]);
    assert.deepEqual(list.map((j) => [j.id, j.state]).sort(), [
      ["done1", "completed"],
      ["later", "pending"],
      ["waiting", "pending"],
    ]);
    assert.equal((await cli(home, ["worker", "run", "--drain", "--queue", "default"])).code, 0);
    assert.equal((await cliJson<JobJson>(home, ["show", "waiting"])).state, "completed");
    assert.equal((await cliJson<JobJson>(home, ["show", "later"])).state, "pending");
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.completed, 2);
    assert.equal(status.counts.scheduled, 1);
  } finally {
    for (const w of workers) await w.kill();
    await home.cleanup();
  }
});
