/**
 * The everyday CLI (issue 14) through the real CLI: commands and specs kept apart, help
 * and mistakes, messages a person would write, the drain's progress line.
 */
import assert from "node:assert/strict";
import {
  cli,
  cliCommand,
  cliJson,
  killWorkers,
  runArgv,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { missingCommand, needs } from "../_helpers/needs.ts";

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  runs: number;
  last_error: string | null;
  exit_code: number | null;
  history?: unknown[];
}

/** Runs the CLI and fails with its stderr unless it exits 0; returns stdout. */
async function ok(home: TempHome, args: string[]): Promise<string> {
  const result = await cli(home, args);
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** Runs the CLI expecting a usage error: exit 2 and one line on stderr; returns that line. */
async function usage(home: TempHome, args: string[]): Promise<string> {
  const result = await cli(home, args);
  assert.equal(result.code, 2, `queuectl ${args.join(" ")}: ${result.stdout}${result.stderr}`);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  return lines[0];
}

Deno.test("enqueue: after -- a brace group is a command; a split or broken spec is exit 2", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["enqueue", "--id", "brace", "--", "{ echo a; } > brace.txt"]);
    assert.equal((await cliJson<JobJson>(home, ["show", "brace"])).state, "pending");
    await ok(home, ["worker", "run", "--drain"]);
    assert.equal(await Deno.readTextFile(`${home.home}/brace.txt`), "a\n");
    // Without --, a brace group (a space after "{") is a command too.
    await ok(home, ["enqueue", "--id", "brace2", "{ echo b; } > brace2.txt"]);
    await ok(home, ["worker", "run", "--drain"]);
    assert.equal(await Deno.readTextFile(`${home.home}/brace2.txt`), "b\n");

    const before = await ok(home, ["list", "--json"]);
    const split = await usage(home, ["enqueue", '{"id":"t","command":"echo Hello', 'World"}']);
    assert.match(split, /^Invalid job spec: it arrived as 2 arguments .*quote the whole JSON/);
    assert.match(await usage(home, ["enqueue", '{"id":"t","command":"echo']), /^Invalid JSON/);
    assert.match(
      await usage(home, ["enqueue", '[{"command":"true"},{"command":"x"', "x"]),
      /^Invalid job spec: it arrived as 2 arguments/,
    );
    assert.equal(await ok(home, ["list", "--json"]), before, "nothing was enqueued");
  } finally {
    await home.cleanup();
  }
});

Deno.test("enqueue: an unknown field is named with the accepted ones, in words a person would write", async () => {
  const home = await tempHome();
  try {
    const one = await usage(home, ["enqueue", '{"comand":"true"}']);
    assert.match(
      one,
      /^Invalid job spec: unknown field "comand"; expected id, command, max_retries,/,
    );
    const array = await usage(home, ["enqueue", '[{"command":"true"},{"command":"x","prio":1}]']);
    assert.match(array, /^Invalid job spec 2 in the argument: unknown field "prio"; expected id, /);
    const ndjson = await cli(home, ["enqueue", "-"], {
      stdin: '{"command":"true"}\n{"command":42}\n',
    });
    assert.equal(ndjson.code, 2);
    assert.match(ndjson.stderr, /^Invalid job spec on stdin line 2: "command" must be/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("help: bare queuectl prints help and exits 0; help worker start is that subcommand's", async () => {
  const home = await tempHome();
  try {
    const bare = await cli(home, []);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /^Usage: queuectl \[options\] \[command\]/);
    assert.match(await ok(home, ["help", "worker", "start"]), /^Usage: queuectl worker start /);
    assert.match(await ok(home, ["help", "dlq", "retry"]), /^Usage: queuectl dlq retry /);
    assert.match(await usage(home, ["help", "worker", "nosuch"]), /^Unknown command "nosuch"/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("pause of an unknown queue is an error unless --create; queue rm forgets an empty queue", async () => {
  const home = await tempHome();
  try {
    assert.match(
      await usage(home, ["pause", "nosuchqueue"]),
      /^Unknown queue "nosuchqueue": .*use --create/,
    );
    assert.match(await usage(home, ["resume", "nosuchqueue"]), /^Unknown queue "nosuchqueue"/);
    assert.match(await ok(home, ["pause", "--create", "nightly"]), /Queue "nightly" paused/);
    await ok(home, ["enqueue", "--id", "e1", "--queue", "emails", "true"]);
    await ok(home, ["queue", "set", "emails", "--concurrency", "2"]);
    await ok(home, ["pause", "emails"]);
    assert.match(
      await usage(home, ["queue", "rm", "emails"]),
      /^Queue "emails" has 1 unfinished job\(s\)/,
    );
    await ok(home, ["cancel", "e1"]);
    assert.equal(await ok(home, ["queue", "rm", "emails"]), 'Queue "emails" removed\n');
    assert.equal(await ok(home, ["queue", "rm", "nightly"]), 'Queue "nightly" removed\n');
    const queues = await cliJson<{ queues: { name: string }[] }>(home, ["queue", "list"]);
    assert.deepEqual(queues.queues.map((q) => q.name), []);
    assert.match(await usage(home, ["queue", "rm", "emails"]), /^Unknown queue "emails"/);
    assert.match(await usage(home, ["pause", "emails"]), /^Unknown queue "emails"/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("messages: one failed attempt is singular; permission refusals are one line naming the path", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["config", "set", "backoff-base", "1"]);
    await ok(home, ["enqueue", '{"id":"f","command":"exit 3","max_retries":1}']);
    const drain = await cli(home, ["worker", "run", "--drain"]);
    assert.equal(drain.code, 1);
    assert.match(drain.stdout, /: 0 completed, 1 failed attempt retried, 1 dead, 0 cancelled\n$/);

    for (
      const [args, code] of [
        [["enqueue", "--file", "/proc/self/status"], 2],
        [["worker", "run", "--drain", "--report", "/proc/self/report.xml"], 1],
        [["--db", "/proc/queue.db", "status"], 1],
      ] as const
    ) {
      const result = await cli(home, [...args]);
      assert.equal(result.code, code, result.stderr);
      const last = result.stderr.trim().split("\n").at(-1)!;
      assert.match(last, /"\/proc[^"]*".*--allow-all, which queuectl does not use/);
      assert.doesNotMatch(result.stderr, /run again/);
    }
  } finally {
    await home.cleanup();
  }
});

Deno.test("dlq retry starts clean: no old last_error or exit_code; list RUNS and show agree", async () => {
  const home = await tempHome();
  try {
    await ok(home, ["config", "set", "backoff-base", "1"]);
    await ok(home, ["enqueue", '{"id":"d","command":"exit 4","max_retries":1}']);
    await cli(home, ["worker", "run", "--drain"]);
    const dead = await cliJson<JobJson>(home, ["show", "d"]);
    assert.equal(dead.state, "dead");
    assert.equal(dead.exit_code, 4);
    await ok(home, ["dlq", "retry", "d"]);
    const back = await cliJson<JobJson>(home, ["show", "d"]);
    assert.equal(back.state, "pending");
    assert.equal(back.last_error, null);
    assert.equal(back.exit_code, null);
    assert.equal(back.history?.length, 2, "the earlier runs are kept");
    const row = (await ok(home, ["list"])).split("\n").find((l) => l.startsWith("d\t"))!;
    assert.equal(row.split("\t")[1], "pending");
    assert.equal(row.split("\t")[2], "0/2 (2 in all)");
    assert.doesNotMatch(row, /exit code/);
    assert.match(
      await ok(home, ["show", "d"]),
      /^attempts +0 of at most 2 \(max_retries 1\); 2 runs in all$/m,
    );
  } finally {
    await home.cleanup();
  }
});

Deno.test({
  ...needs(
    "worker run --drain on a terminal: the progress total stays put while dependents are released",
    await missingCommand("script", "bsdutils"),
  ),
  async fn() {
    const home = await tempHome();
    try {
      const job = (id: string, extra: Record<string, unknown> = {}) =>
        JSON.stringify({ id, command: "sleep 0.2", ...extra });
      const lines = [
        job("a"),
        job("b", { after: ["a"] }),
        job("c", { after: ["b"] }),
        job("d", { after: ["a"] }),
        job("x", { command: "exit 3", max_retries: 0 }),
        job("y", { after: ["x"] }),
        job("z", { after: ["y"] }),
        job("e"),
      ];
      await cli(home, ["enqueue", "-"], { stdin: lines.join("\n") + "\n" });
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const line = [...cliCommand(), "worker", "run", "--drain", "--concurrency", "2"]
        .map(quote).join(" ");
      const env = Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([n]) => !["NO_COLOR", "CI"].includes(n)),
      );
      const out = await new Deno.Command("script", {
        args: ["-qec", line, "/dev/null"],
        clearEnv: true,
        env: { ...env, TERM: "xterm", QUEUECTL_HOME: home.home, ...home.store.env },
        cwd: home.home,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      const draws = [...text.matchAll(/ (\d+)\/(\d+) jobs /g)].map((m) => [+m[1], +m[2]]);
      assert.ok(draws.length >= 2, text);
      assert.deepEqual([...new Set(draws.map(([, total]) => total))], [8], text);
      assert.deepEqual(draws.at(-1), [8, 8], "the last draw shows every job done");
    } finally {
      await home.cleanup();
    }
  },
});

Deno.test("durations and sizes: config and options share one grammar, and config get prints it back", async () => {
  const home = await tempHome();
  try {
    assert.equal(
      await ok(home, ["config", "set", "keep-completed", "7d"]),
      "keep-completed = 7d\n",
    );
    assert.equal(await ok(home, ["config", "set", "job-timeout", "10m"]), "job-timeout = 10m\n");
    assert.equal(
      await ok(home, ["config", "set", "max-log-bytes", "20MiB"]),
      "max-log-bytes = 20MiB\n",
    );
    assert.equal(await ok(home, ["config", "set", "lease-seconds", "45"]), "lease-seconds = 45s\n");
    assert.equal(await ok(home, ["config", "get", "keep-completed"]), "7d\n");
    assert.equal(await ok(home, ["config", "get", "job-timeout"]), "10m\n");
    assert.equal(await ok(home, ["config", "get", "max-log-bytes"]), "20MiB\n");
    const json = await cliJson<Record<string, number>>(home, ["config", "list"]);
    assert.deepEqual(
      [json["keep-completed"], json["job-timeout"], json["max-log-bytes"], json["lease-seconds"]],
      [604800, 600, 20971520, 45],
      "JSON keeps seconds and bytes",
    );
    const table = await ok(home, ["config", "list"]);
    assert.match(table, /^max-log-bytes\t20MiB\t10MiB\t/m);
    assert.match(await usage(home, ["config", "set", "job-timeout", "soon"]), /job-timeout "soon"/);
    assert.match(await usage(home, ["config", "set", "max-log-bytes", "lots"]), /max-log-bytes/);
    assert.equal(await ok(home, ["config", "get", "job-timeout"]), "10m\n", "unchanged");

    await ok(home, ["enqueue", "--id", "t", "--timeout", "90s", "--delay", "1h", "true"]);
    assert.equal((await cliJson<{ timeout: number }>(home, ["show", "t"])).timeout, 90);
    await ok(home, ["enqueue", "--id", "d", "--delay", "1h", "true"]);
    assert.equal((await cliJson<{ timeout: number }>(home, ["show", "d"])).timeout, 600);
    const wait = await cli(home, ["wait", "t", "--timeout", "500ms"]);
    assert.equal(wait.code, 1);
    assert.match(wait.stderr, /\nTimed out after 500ms: not every job has finished\n$/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("FIFO as documented: on 3 lanes, a job starts after at most 5 equal-priority jobs enqueued after it", async () => {
  const home = await tempHome();
  try {
    const order = `${home.home}/order`;
    const job = (id: string) =>
      JSON.stringify({ id, command: `echo $QUEUECTL_JOB_ID >> ${order}; sleep 0.05` });
    const ids = Array.from({ length: 50 }, (_, i) => `j${String(i).padStart(2, "0")}`);
    await cli(home, ["enqueue", "-"], { stdin: ids.map(job).join("\n") + "\n" });
    const drain = await cli(home, ["worker", "run", "--drain", "--concurrency", "3"]);
    assert.equal(drain.code, 0, drain.stderr);
    // The order in which the jobs themselves started (each appends its id as it starts).
    const started = (await Deno.readTextFile(order)).trim().split("\n").map((l) => ids.indexOf(l));
    assert.equal(started.length, 50);
    let worst = 0;
    started.forEach((n, at) => {
      // Enqueued after this job, yet started before it.
      worst = Math.max(worst, started.slice(0, at).filter((m) => m > n).length);
    });
    assert.ok(worst <= 5, `a job started after ${worst} jobs enqueued after it: ${started}`);

    // With one lane the order is strict.
    await Deno.remove(order);
    await cli(home, ["enqueue", "-"], {
      stdin: ids.map((id) => job(id.replace("j", "k"))).join("\n") + "\n",
    });
    await ok(home, ["worker", "run", "--drain"]);
    const one = (await Deno.readTextFile(order)).trim().split("\n");
    assert.deepEqual(one, ids.map((id) => id.replace("j", "k")), "one lane runs in enqueue order");
  } finally {
    await home.cleanup();
  }
});

/** Starts the CLI with stderr collected as it comes; `done` resolves with its exit code. */
function spawnWatched(home: TempHome, args: string[]) {
  const [cmd, ...pre] = cliCommand();
  const child = new Deno.Command(cmd, {
    args: [...pre, ...args],
    env: home.env,
    cwd: home.home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const seen = { stdout: "", stderr: "" };
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) seen[key] += chunk;
  };
  const done = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")])
    .then(() => child.status).then((s) => s.code);
  return { pid: child.pid, seen, done };
}

const NO_WORKER = 'No worker is running for queue "default": ';

Deno.test("no silent waits: enqueue, wait and logs -f say once that no worker serves the queue; enqueue --start starts one", async () => {
  const home = await tempHome();
  try {
    const first = await cli(home, ["enqueue", "--id", "a", "echo a"]);
    assert.equal(first.stdout, "a\n");
    assert.equal(
      first.stderr,
      `${NO_WORKER}it waits until one starts (queuectl worker start, or queuectl enqueue --start)\n`,
    );
    const other = await cli(home, ["enqueue", "--queue", "emails", "true"]);
    assert.match(
      other.stderr,
      /^No worker is running for queue "emails": .*worker start --queue emails/,
    );
    const wait = await cli(home, ["wait", "a", "--timeout", "300ms"]);
    assert.equal(wait.code, 1);
    assert.equal(wait.stderr.split(NO_WORKER).length - 1, 1, wait.stderr);
    assert.match(wait.stderr, /Timed out after 300ms/);

    const follow = spawnWatched(home, ["logs", "-f", "a"]);
    await waitFor(() => follow.seen.stderr.includes(NO_WORKER), {
      timeoutMs: 15_000,
      what: "logs -f to say no worker serves the queue",
    });
    const started = await cli(home, ["enqueue", "--start", "--id", "b", "echo b"]);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stderr, /^Started worker w-[0-9a-f]+ \(pid \d+\) to run it; stop it with/);
    assert.equal(await follow.done, 0);
    assert.equal(follow.seen.stdout, "a\n");
    assert.equal(follow.seen.stderr.split(NO_WORKER).length - 1, 1, "said once");
    assert.equal((await cli(home, ["wait", "b", "--timeout", "30s"])).code, 0);
    const served = await cli(home, ["enqueue", "true"]);
    assert.equal(served.stderr, "", "a live worker serves the queue: nothing to say");
  } finally {
    await killWorkers(home);
    await home.cleanup();
  }
});

Deno.test("worker stop says which jobs it waits for and for how long", async () => {
  const home = await tempHome();
  try {
    const gate = `${home.home}/gate`;
    await ok(home, ["enqueue", "--id", "busy", `while [ ! -f ${gate} ]; do sleep 0.05; done`]);
    await ok(home, ["worker", "start"]);
    await waitFor(
      async () => (await cliJson<JobJson>(home, ["show", "busy"])).state === "processing",
      { timeoutMs: 15_000, what: "the job to start" },
    );
    const stop = spawnWatched(home, ["worker", "stop"]);
    await waitFor(() => stop.seen.stderr.includes("Still waiting after"), {
      timeoutMs: 20_000,
      what: "worker stop to say it is still waiting",
    });
    await Deno.writeTextFile(gate, "");
    assert.equal(await stop.done, 0);
    assert.match(
      stop.seen.stderr,
      /^Waiting for running jobs to finish: busy on w-[0-9a-f]+ \(running [\d.]+m?s\); --force kills them now and puts them back\n/,
    );
    assert.match(stop.seen.stderr, /\nStill waiting after 5\.\ds: busy on w-/);
    assert.match(stop.seen.stdout, /stopped\n$/);
    assert.equal((await cliJson<JobJson>(home, ["show", "busy"])).state, "completed");
  } finally {
    await killWorkers(home);
    await home.cleanup();
  }
});

Deno.test({
  ...needs(
    "completions complete values: recent job ids first, states, queues, config keys, labels (bash, zsh, fish)",
    (await missingCommand("zsh")) ?? (await missingCommand("fish")),
  ),
  async fn() {
    const home = await tempHome();
    try {
      await ok(home, ["enqueue", "--id", "alpha", "--label", "nightly", "true"]);
      await ok(home, ["enqueue", "--id", "beta", "--queue", "emails", "true"]);
      await ok(home, ["schedule", "add", "backup", "@daily", "--", "true"]);
      // The scripts call `queuectl __complete`: put this checkout's CLI on the PATH as queuectl.
      const bin = `${home.home}/bin`;
      await Deno.mkdir(bin);
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      await Deno.writeTextFile(
        `${bin}/queuectl`,
        `#!/bin/sh\nexec ${cliCommand().map(quote).join(" ")} "$@"\n`,
        { mode: 0o755 },
      );
      const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
      const script = async (shell: string) => {
        const out = await cli(home, ["completions", shell]);
        const file = `${home.home}/completion.${shell}`;
        await Deno.writeTextFile(file, out.stdout);
        return file;
      };
      const shell = async (argv: string[]) => {
        const result = await runArgv(home, argv, { env });
        assert.equal(result.code, 0, result.stderr);
        return result.stdout.trim().split("\n");
      };

      const bash = await script("bash");
      assert.deepEqual(
        await shell([
          "bash",
          "-c",
          [
            `source ${bash}`,
            `t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _queuectl; echo "\${COMPREPLY[*]}"; }`,
            `t queuectl show ''`,
            `t queuectl list --state p`,
            `t queuectl pause ''`,
            `t queuectl config get max-l`,
            `t queuectl list --label ''`,
            `t queuectl enqueue --queue e`,
            `t queuectl schedule show ''`,
            `t queuectl list --schedule b`,
          ].join("\n"),
        ]),
        [
          "beta alpha",
          "pending processing",
          "default emails",
          "max-log-bytes max-lost",
          "nightly",
          "emails",
          "backup",
          "backup",
        ],
      );

      const zsh = await script("zsh");
      assert.deepEqual(
        await shell([
          "zsh",
          "-c",
          [
            `compdef() { :; }`,
            `_describe() { local n=\${@[-1]}; print -r -- "\${(Pj:|:)n}"; }`,
            `_files() { print -r -- "<files>"; }`,
            `compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -r -- "\${(j:|:)@}"; }`,
            `source ${zsh}`,
            `t() { words=("$@"); CURRENT=\${#words}; _queuectl; }`,
            `t queuectl rm ''`,
            `t queuectl list --state ''`,
            `t queuectl queue rm ''`,
          ].join("\n"),
        ]),
        ["beta|alpha", "pending|processing|completed|failed|dead|cancelled", "default|emails"],
      );

      const fish = await script("fish");
      const complete = async (line: string) =>
        (await shell(["fish", "--no-config", "-c", `source ${fish}; complete -C '${line}'`]))
          .map((l) => l.split("\t")[0]);
      assert.deepEqual(await complete("queuectl logs "), ["beta", "alpha"]);
      assert.deepEqual(await complete("queuectl config set keep"), ["keep-completed"]);
      assert.deepEqual(await complete("queuectl list --label "), ["nightly"]);
    } finally {
      await home.cleanup();
    }
  },
});
