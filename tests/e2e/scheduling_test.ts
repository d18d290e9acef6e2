import assert from "node:assert/strict";
import { cli, cliJson, cliSpawn, type Spawned, tempHome, waitFor } from "../_helpers/cli.ts";

interface Job {
  id: string;
  state: string;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  next_run_at: string | null;
  last_error: string | null;
}

Deno.test("e2e: one worker runs higher priority first, FIFO among equal priorities", async () => {
  const home = await tempHome();
  try {
    const order = `${home.home}/order.txt`;
    const jobs = [
      { id: "low-1", priority: 0 },
      { id: "high-1", priority: 10 },
      { id: "low-2", priority: 0 },
      { id: "mid-1", priority: 5 },
      { id: "high-2", priority: 10 },
      { id: "neg-1", priority: -3 },
    ];
    const ndjson = jobs.map((j) => JSON.stringify({ ...j, command: `echo ${j.id} >> ${order}` }))
      .join("\n");
    assert.equal((await cli(home, ["enqueue", "-"], { stdin: ndjson })).code, 0);
    // A later enqueue with --priority on the command line.
    assert.equal(
      (await cli(home, ["enqueue", "--id", "top", "--priority", "99", `echo top >> ${order}`]))
        .code,
      0,
    );
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 0);
    const ran = (await Deno.readTextFile(order)).trim().split("\n");
    assert.deepEqual(ran, ["top", "high-1", "high-2", "mid-1", "low-1", "low-2", "neg-1"]);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: a delayed job does not run before its time, and a worker already waiting runs it once it is due", async () => {
  const home = await tempHome();
  let worker: Spawned | undefined;
  try {
    // The worker is up first, so the job is due while it waits (not when it starts).
    worker = cliSpawn(home, ["worker", "run"]);
    await waitFor(async () => (await cliJson<unknown[]>(home, ["worker", "status"])).length === 1, {
      timeoutMs: 20_000,
      what: "the worker to register",
    });
    // The job as enqueued (read later, it may already have been promoted or run).
    const queued = await cliJson<Job & { created_at: string }>(home, [
      "enqueue",
      "--id",
      "later",
      "--delay",
      "2s",
      "true",
    ]);
    const due = Date.parse(queued.next_run_at!);
    assert.equal(due - Date.parse(queued.created_at), 2000, "due 2 s after it was enqueued");
    await waitFor(async () => (await cliJson<Job>(home, ["show", "later"])).state === "completed", {
      timeoutMs: 20_000,
      what: "the delayed job to complete",
    });
    const done = await cliJson<Job>(home, ["show", "later"]);
    assert.equal(done.attempts, 1);
    const started = Date.parse(done.started_at!);
    assert.ok(started >= due, `started ${due - started}ms before its time`);
  } finally {
    await worker?.kill("SIGTERM");
    await home.cleanup();
  }
});

Deno.test("e2e: run_at in the spec schedules the job; the past runs at once", async () => {
  const home = await tempHome();
  try {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    await cli(home, ["enqueue", JSON.stringify({ id: "future", command: "true", run_at: future })]);
    await cli(home, ["enqueue", JSON.stringify({ id: "past", command: "true", run_at: past })]);
    assert.equal((await cliJson<Job>(home, ["show", "future"])).next_run_at, future);
    assert.equal((await cliJson<Job>(home, ["show", "past"])).next_run_at, null);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 0);
    assert.equal((await cliJson<Job>(home, ["show", "past"])).state, "completed");
    assert.equal((await cliJson<Job>(home, ["show", "future"])).state, "pending");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: max-backoff caps the retry delay and jitter only shortens it", async () => {
  const home = await tempHome();
  try {
    // base^1 = 100 s, capped at 60 s, jitter 0.5: each first retry is due 30 to 60 s after
    // its run finished, long after this test has read it.
    await cli(home, ["config", "set", "backoff-base", "100"]);
    await cli(home, ["config", "set", "max-backoff", "60"]);
    await cli(home, ["config", "set", "backoff-jitter", "0.5"]);
    for (let i = 0; i < 5; i++) {
      await cli(home, [
        "enqueue",
        JSON.stringify({ id: `f${i}`, command: "exit 1", max_retries: 1 }),
      ]);
    }
    // One pass: run until all five have failed once, then stop the worker.
    const worker = cliSpawn(home, ["worker", "run"]);
    try {
      await waitFor(async () => {
        const s = await cliJson<{ counts: { failed: number } }>(home, ["status"]);
        return s.counts.failed === 5;
      }, { timeoutMs: 20_000, what: "five failed jobs" });
    } finally {
      await worker.kill("SIGTERM");
    }
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const job = await cliJson<Job & { history: { finished_at: string }[] }>(home, [
        "show",
        `f${i}`,
      ]);
      assert.equal(job.state, "failed", `f${i}`);
      assert.equal(job.history.length, 1, `f${i} ran once`);
      delays.push(Date.parse(job.next_run_at!) - Date.parse(job.history[0].finished_at));
    }
    for (const delay of delays) {
      assert.ok(delay >= 30_000 && delay <= 60_000, `delay ${delay}ms outside [30s, 60s]`);
    }
    assert.ok(new Set(delays).size > 1, `jitter varies the delays: ${delays}`);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: cancel stops a queued job and kills a running one without retrying it", async () => {
  const home = await tempHome();
  let worker: Spawned | undefined;
  try {
    const marker = `${home.home}/ran-after-sleep`;
    await cli(home, ["enqueue", "--id", "queued", "--delay", "1h", "true"]);
    assert.equal((await cli(home, ["cancel", "queued"])).code, 0);
    assert.equal((await cliJson<Job>(home, ["show", "queued"])).state, "cancelled");
    assert.equal(
      (await cli(home, ["cancel", "queued"])).code,
      2,
      "a cancelled job cannot be cancelled again",
    );

    await cli(home, ["enqueue", "--id", "running", `sleep 30; touch ${marker}`]);
    worker = cliSpawn(home, ["worker", "run"]);
    await waitFor(
      async () => (await cliJson<Job>(home, ["show", "running"])).state === "processing",
      {
        timeoutMs: 15_000,
        what: "the job to start",
      },
    );
    const cancel = await cli(home, ["cancel", "running"]);
    assert.equal(cancel.code, 0, cancel.stderr);
    await waitFor(
      async () => (await cliJson<Job>(home, ["show", "running"])).state === "cancelled",
      {
        timeoutMs: 15_000,
        what: "the running job to end cancelled",
      },
    );
    const job = await cliJson<Job>(home, ["show", "running"]);
    assert.equal(job.attempts, 1);
    assert.equal(job.next_run_at, null, "not scheduled for a retry");
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.cancelled, 2);
    assert.equal(status.counts.processing, 0);
    await assert.rejects(Deno.stat(marker), "the killed command did not go on");
  } finally {
    await worker?.kill("SIGTERM");
    await home.cleanup();
  }
});

Deno.test("e2e: wait exits 0 when every job completed and 1 when one did not", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "--id", "good", "true"]);
    await cli(home, ["enqueue", "--id", "bad", "--max-retries", "0", "false"]);
    await cli(home, ["enqueue", "--id", "slow", "--delay", "1h", "true"]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    assert.equal((await cli(home, ["wait", "good"])).code, 0);
    assert.equal((await cli(home, ["wait", "good", "bad"])).code, 1);
    const timed = await cli(home, ["wait", "slow", "--timeout", "0.3"]);
    assert.equal(timed.code, 1);
    assert.match(timed.stderr, /Timed out/);
    assert.equal((await cli(home, ["wait", "nosuch"])).code, 2);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: logs --follow prints lines while the job is still running", async () => {
  const home = await tempHome();
  let worker: Spawned | undefined;
  try {
    const gate = `${home.home}/gate`;
    // Prints one line, then waits for the test to open the gate before printing the second.
    const command = `echo first; while [ ! -f ${gate} ]; do sleep 0.05; done; echo second`;
    await cli(home, ["enqueue", "--id", "talk", command]);
    worker = cliSpawn(home, ["worker", "run"]);
    const [cmd, ...pre] = (await import("../_helpers/cli.ts")).cliCommand();
    const follow = new Deno.Command(cmd, {
      args: [...pre, "logs", "talk", "--follow"],
      env: home.env,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const reader = follow.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("first\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      assert.equal(seen, "first\n", "the first line arrives before the job ends");
      assert.equal((await cliJson<Job>(home, ["show", "talk"])).state, "processing");
      await Deno.writeTextFile(gate, "");
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      assert.equal(seen, "first\nsecond\n");
      assert.equal((await follow.status).code, 0, "--follow ends when the job ends");
    } finally {
      try {
        follow.kill("SIGKILL");
      } catch {
        // already ended
      }
      await follow.status;
    }
    assert.equal((await cli(home, ["logs", "talk"])).stdout, "first\nsecond\n");
  } finally {
    await worker?.kill("SIGTERM");
    await home.cleanup();
  }
});

Deno.test("e2e: logs picks attempts and streams, and says when a job has not run", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["config", "set", "backoff-base", "1"]);
    const cmd = `echo out-$(cat ${home.home}/n 2>/dev/null || echo 1); echo err >&2; ` +
      `echo 2 > ${home.home}/n; exit 1`;
    await cli(home, ["enqueue", JSON.stringify({ id: "two", command: cmd, max_retries: 1 })]);
    const none = await cli(home, ["logs", "two"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /has not run yet/);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    assert.equal((await cli(home, ["logs", "two", "--attempt", "1"])).stdout, "out-1\n");
    assert.equal((await cli(home, ["logs", "two"])).stdout, "out-2\n");
    assert.equal((await cli(home, ["logs", "two", "--stderr"])).stdout, "err\n");
    assert.equal((await cli(home, ["logs", "two", "--attempt", "3"])).code, 2);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: stats count a known workload", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["config", "set", "backoff-base", "1"]);
    const lines = [
      ...Array.from({ length: 4 }, (_, i) => JSON.stringify({ id: `ok${i}`, command: "true" })),
      JSON.stringify({ id: "bad", command: "exit 3", max_retries: 1 }),
      JSON.stringify({ id: "slow", command: "sleep 0.3" }),
    ];
    await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") });
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    const stats = await cliJson<{
      totals: Record<string, number>;
      success_rate: number;
      run_time_ms: { p50: number; p95: number; max: number };
      top_failing: { command: string; failures: number }[];
      counts: Record<string, number>;
    }>(home, ["stats", "--since", "10m"]);
    assert.deepEqual(stats.totals, { completed: 5, failed: 2, dead: 1, cancelled: 0, attempts: 7 });
    assert.equal(stats.success_rate, Math.round((5 / 7) * 1000) / 1000);
    assert.ok(stats.run_time_ms.max >= 300, `max ${stats.run_time_ms.max}`);
    assert.ok(stats.run_time_ms.p95 >= 250 && stats.run_time_ms.p95 <= stats.run_time_ms.max);
    assert.ok(stats.run_time_ms.p50 <= 250);
    assert.deepEqual(stats.top_failing, [{ command: "exit 3", failures: 2 }]);
    assert.equal(stats.counts.completed, 5);
    assert.equal(stats.counts.dead, 1);
    const text = await cli(home, ["stats"]);
    assert.match(text.stdout, /5 completed, 1 dead/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: purge removes finished jobs older than the cutoff with their logs", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "--id", "old", "echo old"]);
    await cli(home, ["enqueue", "--id", "gone", "--max-retries", "0", "false"]);
    await cli(home, ["enqueue", "--id", "waiting", "--delay", "1h", "true"]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    assert.equal((await cli(home, ["purge"])).code, 2, "purge needs a state");
    const young = await cliJson<string[]>(home, ["purge", "--completed", "--older-than", "1h"]);
    assert.deepEqual(young, [], "nothing finished an hour ago");
    const purged = await cliJson<string[]>(home, ["purge", "--completed"]);
    assert.deepEqual(purged, ["old"]);
    assert.equal((await cli(home, ["show", "old"])).code, 2);
    await assert.rejects(Deno.stat(`${home.home}/logs/old`));
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.completed, 0);
    assert.equal(status.counts.dead, 1);
    assert.equal(status.counts.pending, 1);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: list filters by command text and priority and sorts by priority", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "--id", "a", "--priority", "1", "curl example"]);
    await cli(home, ["enqueue", "--id", "b", "--priority", "7", "make build"]);
    await cli(home, ["enqueue", "--id", "c", "--priority", "7", "curl other"]);
    const curl = await cliJson<Job[]>(home, ["list", "--command", "curl"]);
    assert.deepEqual(curl.map((j) => j.id), ["c", "a"]);
    const seven = await cliJson<Job[]>(home, ["list", "--priority", "7"]);
    assert.deepEqual(seven.map((j) => j.id), ["c", "b"]);
    const byPriority = await cliJson<Job[]>(home, ["list", "--sort", "priority"]);
    assert.deepEqual(byPriority.map((j) => j.id), ["b", "c", "a"]);
    assert.equal((await cli(home, ["list", "--sort", "size"])).code, 2);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: status --watch prints once when stdout is not a terminal", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "true"]);
    const result = await cli(home, ["status", "--watch"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.match(/^Jobs$/gm)?.length, 1);
    assert.ok(!result.stdout.includes("\u001b["), "no escape codes off a terminal");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: the shell runs commands in one process and ends at exit", async () => {
  const home = await tempHome();
  try {
    const script = [
      `enqueue --id s1 "echo from shell"`,
      "worker run --drain",
      "show s1 --json",
      "show nosuch",
      "exit",
      "enqueue --id never true",
    ].join("\n") + "\n";
    const result = await cli(home, ["shell"], { stdin: script });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /"state": "completed"/);
    assert.match(result.stderr, /No job with id "nosuch"/);
    assert.equal((await cli(home, ["show", "never"])).code, 2, "nothing after exit runs");
    const history = await Deno.readTextFile(`${home.home}/shell_history`);
    assert.match(history, /show s1 --json/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: workers purge completed jobs older than keep-completed, and only those", async () => {
  const home = await tempHome();
  let worker: Spawned | undefined;
  try {
    await cli(home, ["config", "set", "keep-completed", "1"]);
    await cli(home, ["enqueue", "--id", "done-1", "true"]);
    await cli(home, ["enqueue", "--id", "dead-1", "--max-retries", "0", "false"]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    worker = cliSpawn(home, ["worker", "run"]);
    await waitFor(async () => (await cli(home, ["show", "done-1"])).code === 2, {
      timeoutMs: 15_000,
      what: "the completed job to be purged",
    });
    assert.equal((await cliJson<Job>(home, ["show", "dead-1"])).state, "dead", "the DLQ is kept");
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.completed, 0);
  } finally {
    await worker?.kill("SIGTERM");
    await home.cleanup();
  }
});

Deno.test("e2e: worker run --drain draws a progress line on a terminal, plain lines elsewhere", async () => {
  const home = await tempHome();
  try {
    const lines = Array.from(
      { length: 5 },
      (_, i) => JSON.stringify({ id: `p${i}`, command: "true" }),
    );
    await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") });
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const line = [...(await import("../_helpers/cli.ts")).cliCommand(), "worker", "run", "--drain"]
      .map(quote).join(" ");
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !["NO_COLOR", "CI"].includes(k)),
    );
    const out = await new Deno.Command("script", {
      args: ["-qec", line, "/dev/null"],
      clearEnv: true,
      env: { ...env, TERM: "xterm", QUEUECTL_HOME: home.home, ...home.store.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text);
    assert.match(text, /\[#+\] 5\/5 jobs {2}[\d.]+\/s {2}ETA/, "the final progress line");
    assert.doesNotMatch(text, /p0 completed in/, "no line per job under the bar");
    // Not a terminal: a line per job, no bar.
    await cli(home, ["enqueue", "--id", "q1", "true"]);
    const plain = await cli(home, ["worker", "run", "--drain"]);
    assert.match(plain.stderr, /q1 completed in/);
    assert.doesNotMatch(plain.stderr, /jobs {2}[\d.]+\/s/);
  } finally {
    await home.cleanup();
  }
});
