import assert from "node:assert/strict";
import meta from "../../deno.json" with { type: "json" };
import {
  cli,
  cliJson,
  cliSpawn,
  killPid,
  killWorkers,
  pathExists,
  pidAlive,
  type Spawned,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";

interface JobJson {
  id: string;
  command: string;
  state: string;
  attempts: number;
  max_retries: number;
  priority: number;
  queue: string;
  next_run_at: string | null;
  history?: unknown[];
}

const VALID_KEYS =
  "max-retries, backoff-base, max-backoff, backoff-jitter, lease-seconds, job-timeout, max-log-bytes, max-lost, keep-completed, store-log-bytes";

/** Runs the CLI and fails with its stderr unless it exits 0; returns stdout. */
async function ok(home: TempHome, args: string[], stdin?: string): Promise<string> {
  const result = await cli(home, args, stdin === undefined ? {} : { stdin });
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

const ids = (stdout: string) => stdout.trim().split("\n").filter((l) => l !== "");

Deno.test("e2e cli: config set persists across invocations; get, list --json, show and reset agree", async () => {
  const home = await tempHome();
  try {
    assert.equal(await ok(home, ["config", "get", "max-retries"]), "3\n", "the default");
    assert.equal(await ok(home, ["config", "set", "max_retries", "5"]), "max-retries = 5\n");
    assert.equal(await ok(home, ["config", "set", "BACKOFF_BASE", "1.5"]), "backoff-base = 1.5\n");
    assert.equal(await ok(home, ["config", "get", "max-retries"]), "5\n");
    assert.equal(await ok(home, ["config", "get", "max_retries"]), "5\n");
    assert.deepEqual(await cliJson(home, ["config", "get", "backoff-base"]), {
      "backoff-base": 1.5,
    });
    const all = await cliJson<Record<string, number>>(home, ["config", "list"]);
    assert.deepEqual(Object.keys(all), VALID_KEYS.split(", "));
    assert.equal(all["max-retries"], 5);
    assert.equal(all["backoff-base"], 1.5);
    assert.equal(all["lease-seconds"], 30);
    const shown = await ok(home, ["config", "show"]);
    assert.match(
      shown,
      /max-retries[^\w\n]+5[^\w\n]+3[^\w\n]/,
      "config show is config list: value then default",
    );
    assert.match(await ok(home, ["config", "reset"]), /reset/i);
    assert.equal(await ok(home, ["config", "get", "max-retries"]), "3\n");
    assert.equal(
      (await cliJson<Record<string, number>>(home, ["config", "list"]))["backoff-base"],
      2,
    );
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: an unknown config key or a bad value exits 2 listing what is valid, store unchanged", async () => {
  const home = await tempHome();
  try {
    const unknown = await cli(home, ["config", "set", "retries", "3"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stdout, "");
    assert.equal(
      unknown.stderr,
      `Unknown config key "retries": expected one of ${VALID_KEYS}\n`,
    );
    const get = await cli(home, ["config", "get", "nope"]);
    assert.equal(get.code, 2);
    assert.match(get.stderr, /^Unknown config key "nope": expected one of max-retries/);
    const bad = await cli(home, ["config", "set", "max-retries", "-1"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Invalid value "-1" for max-retries: must be between 0 and /);
    const kind = await cli(home, ["config", "set", "lease-seconds", "2.5"]);
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /expected whole seconds or a duration such as 90, 30s/);
    assert.equal(await ok(home, ["config", "get", "max-retries"]), "3\n");
    assert.equal(await ok(home, ["config", "get", "lease-seconds"]), "30s\n");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: a duplicate id exits 2 with a clear message and leaves the existing job untouched", async () => {
  const home = await tempHome();
  try {
    assert.equal(await ok(home, ["enqueue", '{"id":"dup","command":"echo first"}']), "dup\n");
    const before = await cliJson(home, ["show", "dup"]);
    for (
      const args of [
        ["enqueue", '{"id":"dup","command":"echo second","priority":9}'],
        ["enqueue", "--id", "dup", "echo", "third"],
      ]
    ) {
      const again = await cli(home, args);
      assert.equal(again.code, 2, args.join(" "));
      assert.equal(again.stdout, "");
      assert.equal(again.stderr, 'Job "dup" already exists (state pending): choose another id\n');
    }
    const inFile = await cli(home, ["enqueue", "-"], {
      stdin: '{"id":"x1","command":"true"}\n{"id":"x1","command":"false"}\n',
    });
    assert.equal(inFile.code, 2);
    assert.match(inFile.stderr, /Duplicate job id "x1" in the input/);
    assert.deepEqual(await cliJson(home, ["show", "dup"]), before);
    const list = await cliJson<JobJson[]>(home, ["list"]);
    assert.deepEqual(list.map((j) => j.id), ["dup"], "nothing else was enqueued");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: enqueue takes JSON, a command string, words after --, a job file, an array file and NDJSON on stdin", async () => {
  const home = await tempHome();
  try {
    assert.equal(
      await ok(home, ["enqueue", '{"id":"json1","command":"echo from json"}']),
      "json1\n",
    );
    const [plain] = ids(await ok(home, ["enqueue", "echo plain && echo more"]));
    const [words] = ids(await ok(home, ["enqueue", "--", "echo", "hi", "there"]));
    await Deno.writeTextFile(
      `${home.home}/job.json`,
      JSON.stringify({ id: "fromfile", command: "echo file", priority: 3 }, null, 2),
    );
    assert.equal(await ok(home, ["enqueue", "job.json"]), "fromfile\n");
    await Deno.writeTextFile(
      `${home.home}/many.json`,
      JSON.stringify([{ id: "arr1", command: "true" }, { id: "arr2", command: "true" }]),
    );
    assert.deepEqual(ids(await ok(home, ["enqueue", "--file", "many.json"])), ["arr1", "arr2"]);
    const ndjson = [
      '{"id":"nd1","command":"echo 1"}',
      "",
      "# a comment line",
      '{"command":"echo 2","queue":"other"}',
      '{"id":"nd3","command":"echo 3","delay":"1h"}',
    ].join("\n");
    const fromStdin = ids(await ok(home, ["enqueue", "-"], ndjson));
    assert.equal(fromStdin.length, 3);
    assert.equal(fromStdin[0], "nd1");
    assert.match(fromStdin[1], /^[0-9a-z]{16}$/, "a generated id");
    assert.equal(fromStdin[2], "nd3");

    const show = (id: string) => cliJson<JobJson>(home, ["show", id]);
    assert.equal((await show(plain)).command, "echo plain && echo more");
    assert.equal((await show(words)).command, "echo hi there");
    assert.equal((await show("fromfile")).priority, 3);
    assert.equal((await show(fromStdin[1])).queue, "other");
    assert.notEqual((await show("nd3")).next_run_at, null);
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.pending, 9);
    assert.equal(status.counts.scheduled, 1);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: enqueue reports a missing job file and a bad field in a pretty-printed file", async () => {
  const home = await tempHome();
  try {
    const missing = await cli(home, ["enqueue", "nosuch.json"]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'Cannot read "nosuch.json": no such file\n');
    await Deno.writeTextFile(
      `${home.home}/bad.json`,
      JSON.stringify({ command: "true", max_retries: -2 }, null, 2),
    );
    const bad = await cli(home, ["enqueue", "bad.json"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Invalid job spec in bad\.json: "max_retries" must be an integer/);
    assert.deepEqual(await cliJson(home, ["list"]), []);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: enqueue --validate prints the normalized job and enqueues nothing", async () => {
  const home = await tempHome();
  try {
    const result = await cli(home, [
      "enqueue",
      "--validate",
      '{"id":"v1","command":"echo hi","state":"pending","attempts":0}',
      "--priority",
      "4",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const job = JSON.parse(result.stdout) as JobJson;
    assert.equal(job.id, "v1");
    assert.equal(job.command, "echo hi");
    assert.equal(job.state, "pending");
    assert.equal(job.priority, 4);
    assert.equal(job.max_retries, 3);
    assert.equal(await pathExists(`${home.home}/queue.db`), false, "no store was even created");
    const invalid = await cli(home, ["enqueue", "--validate", '{"command":""}']);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /"command" must be a non-empty string/);
    await ok(home, ["config", "set", "max-retries", "7"]);
    const withConfig = JSON.parse(await ok(home, ["enqueue", "--validate", "true"])) as JobJson;
    assert.equal(withConfig.max_retries, 7, "validate applies the stored config");
    assert.deepEqual(await cliJson(home, ["list"]), []);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: a job's own max_retries overrides the configured one", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["config", "set", "max-retries", "0"]);
    await ok(home, ["config", "set", "max-backoff", "0"]); // retry at once: keep the test fast
    await ok(home, ["enqueue", '{"id":"own","command":"exit 1","max_retries":2}']);
    await ok(home, ["enqueue", "--id", "flag", "--max-retries", "1", "exit 1"]);
    await ok(home, ["enqueue", '{"id":"cfg","command":"exit 1"}']);
    const run = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(run.code, 1, "jobs ended dead");
    const own = await cliJson<JobJson>(home, ["show", "own"]);
    const flag = await cliJson<JobJson>(home, ["show", "flag"]);
    const cfg = await cliJson<JobJson>(home, ["show", "cfg"]);
    assert.deepEqual([own.max_retries, own.attempts, own.state], [2, 3, "dead"]);
    assert.deepEqual([flag.max_retries, flag.attempts, flag.state], [1, 2, "dead"]);
    assert.deepEqual([cfg.max_retries, cfg.attempts, cfg.state], [0, 1, "dead"]);
    assert.equal(own.history?.length, 3);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: worker stop lets the running job finish, then the worker exits", async () => {
  const home = await tempHome();
  const pids: number[] = [];
  try {
    const marker = `${home.home}/done.txt`, gate = `${home.home}/gate`;
    // The job runs until the test opens its gate, so it is surely running at the stop.
    const command = `while [ ! -e ${gate} ]; do sleep 0.05; done; echo done > ${marker}`;
    await ok(home, ["enqueue", JSON.stringify({ id: "slow", command })]);
    const started = await cliJson<{ id: string; pid: number; log: string }[]>(home, [
      "worker",
      "start",
    ]);
    pids.push(...started.map((s) => s.pid));
    assert.equal(started.length, 1);
    await waitFor(
      async () => (await cliJson<JobJson>(home, ["show", "slow"])).state === "processing",
      { timeoutMs: 20_000, what: "the job to be processing" },
    );
    let stopReturned = false;
    const stopping = cli(home, ["worker", "stop"]).finally(() => stopReturned = true);
    await waitFor(
      async () => (await Deno.readTextFile(started[0].log)).includes("stopping"),
      { timeoutMs: 20_000, what: "the worker to say it is stopping" },
    );
    assert.equal((await cliJson<JobJson>(home, ["show", "slow"])).state, "processing");
    assert.ok(await pidAlive(started[0].pid), "the worker waits for its running job");
    assert.equal(stopReturned, false, "worker stop waits for the worker");
    await Deno.writeTextFile(gate, "");
    const stop = await stopping;
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(
      stop.stdout,
      new RegExp(`${started[0].id} \\(pid ${started[0].pid} .*\\) stopped`),
    );
    const job = await cliJson<JobJson>(home, ["show", "slow"]);
    assert.equal(job.state, "completed", "the running job finished before the worker stopped");
    assert.equal(job.attempts, 1);
    assert.equal(await Deno.readTextFile(marker), "done\n");
    await waitFor(async () => !await pidAlive(started[0].pid), {
      timeoutMs: 10_000,
      what: `worker pid ${started[0].pid} to exit`,
    });
    assert.deepEqual(await cliJson(home, ["worker", "status"]), []);
  } finally {
    await Deno.writeTextFile(`${home.home}/gate`, "").catch(() => {});
    for (const pid of pids) killPid(pid);
    await killWorkers(home);
    await home.cleanup();
  }
});

Deno.test("e2e cli: worker start --foreground runs jobs like worker run and exits 0 on SIGTERM", async () => {
  const home = await tempHome();
  let worker: Spawned | null = null;
  try {
    const marker = `${home.home}/fg.txt`;
    await ok(home, ["enqueue", JSON.stringify({ id: "fg", command: `echo fg > ${marker}` })]);
    worker = cliSpawn(home, ["worker", "start", "--foreground"]);
    await waitFor(
      async () => (await cliJson<JobJson>(home, ["show", "fg"])).state === "completed",
      { timeoutMs: 20_000, what: "the job to complete" },
    );
    assert.equal(await Deno.readTextFile(marker), "fg\n");
    const status = await cliJson<{ pid: number }[]>(home, ["worker", "status"]);
    assert.deepEqual(
      status.map((w) => w.pid),
      [worker.pid],
      "the foreground process is the worker",
    );
    Deno.kill(worker.pid, "SIGTERM");
    const exit = await worker.child.status;
    assert.equal(exit.code, 0);
    assert.deepEqual(await cliJson(home, ["worker", "status"]), [], "it removed its record");
  } finally {
    await worker?.kill();
    await home.cleanup();
  }
});

Deno.test("e2e cli: --help of enqueue and worker run has examples and the max_retries rule", async () => {
  const home = await tempHome();
  try {
    for (const args of [["enqueue", "--help"], ["worker", "run", "--help"]]) {
      const help = await ok(home, args);
      assert.match(help, /^Usage: queuectl /);
      assert.match(help, /\nExamples:\n {2}\$ queuectl /);
      assert.match(help, /at most n\+1\s+times/, args.join(" "));
    }
    assert.match(await ok(home, ["enqueue", "--help"]), /max_retries 3 means at most 4 runs/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: --version prints the version from deno.json", async () => {
  const home = await tempHome();
  try {
    assert.equal(await ok(home, ["--version"]), `${meta.version}\n`);
    assert.equal(await ok(home, ["-V"]), `${meta.version}\n`);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: list --state bogus and show of a missing job exit 2 with one line", async () => {
  const home = await tempHome();
  try {
    const list = await cli(home, ["list", "--state", "bogus"]);
    assert.equal(list.code, 2);
    assert.equal(list.stdout, "");
    assert.equal(
      list.stderr,
      'Unknown state "bogus": expected one of pending, processing, completed, failed, dead, cancelled\n',
    );
    const show = await cli(home, ["show", "nosuch"]);
    assert.equal(show.code, 2);
    assert.equal(show.stdout, "");
    assert.equal(show.stderr, 'No job with id "nosuch"\n');
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: dlq retry --all and dlq remove (one, then --all) act on dead jobs only", async () => {
  const home = await tempHome();
  try {
    const lines = ["d1", "d2", "d3"].map((id) =>
      JSON.stringify({ id, command: "exit 1", max_retries: 0 })
    );
    lines.push(JSON.stringify({ id: "ok", command: "true" }));
    await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") });
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    const retried = await cliJson<string[]>(home, ["dlq", "retry", "--all"]);
    assert.deepEqual(retried.sort(), ["d1", "d2", "d3"]);
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.pending, 3);
    assert.equal(status.counts.dead, 0);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 1);
    assert.equal(
      (await cli(home, ["dlq", "remove", "ok"])).code,
      2,
      "a completed job is not in the DLQ",
    );
    assert.deepEqual(await cliJson<string[]>(home, ["dlq", "remove", "d1"]), ["d1"]);
    assert.equal((await cli(home, ["show", "d1"])).code, 2);
    assert.deepEqual((await cliJson<string[]>(home, ["dlq", "remove", "--all"])).sort(), [
      "d2",
      "d3",
    ]);
    const after = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(after.counts.dead, 0);
    assert.equal(after.counts.completed, 1);
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: --db keeps the store in another file, for every command and the workers", async () => {
  const home = await tempHome();
  try {
    const db = `${home.home}/elsewhere/jobs.db`;
    assert.equal((await cli(home, ["--db", db, "enqueue", "--id", "x", "true"])).code, 0);
    assert.equal((await cli(home, ["enqueue", "--db", db, "--id", "y", "true"])).code, 0);
    const started = await cliJson<{ pid: number }[]>(home, ["--db", db, "worker", "start"]);
    try {
      await waitFor(async () => {
        const s = await cliJson<{ counts: Record<string, number> }>(home, ["--db", db, "status"]);
        return s.counts.completed === 2;
      }, { timeoutMs: 15_000, what: "both jobs to complete through the --db store" });
    } finally {
      await cli(home, ["--db", db, "worker", "stop"]);
      for (const s of started) killPid(s.pid);
    }
    await assert.rejects(Deno.stat(`${home.home}/queue.db`), "the default store was not made");
    assert.equal((await cli(home, ["show", "x"])).code, 2, "the default store has no such job");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e cli: a job sees QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT and QUEUECTL_WORKER_ID", async () => {
  const home = await tempHome();
  try {
    await cli(home, [
      "enqueue",
      "--id",
      "envy",
      'echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $QUEUECTL_WORKER_ID"',
    ]);
    assert.equal((await cli(home, ["worker", "run", "--drain"])).code, 0);
    const [id, attempt, worker] = (await cli(home, ["logs", "envy"])).stdout.trim().split(" ");
    assert.equal(id, "envy");
    assert.equal(attempt, "1");
    assert.match(worker, /^w-[0-9a-f]{8}$/);
  } finally {
    await home.cleanup();
  }
});
