import assert from "node:assert/strict";
import { runAttempt, type RunOptions } from "../lib/runner.ts";
import { waitFor } from "./_helpers/cli.ts";
import { groupMembers, killProcessesOf } from "./_helpers/procs.ts";

const RUNNER_URL = new URL("../lib/runner.ts", import.meta.url).href;

/** A temp dir for one test, with every process naming it killed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-runner-" });
  try {
    await fn(dir);
  } finally {
    await killProcessesOf(dir);
    await Deno.remove(dir, { recursive: true });
  }
}

function options(dir: string, command: string, more: Partial<RunOptions> = {}): RunOptions {
  return {
    command,
    cwd: dir,
    timeoutSeconds: null,
    stdoutPath: `${dir}/logs/1.out`,
    stderrPath: `${dir}/logs/1.err`,
    maxLogBytes: 64 * 1024,
    ...more,
  };
}

async function readPid(path: string): Promise<number> {
  return Number((await Deno.readTextFile(path)).trim());
}

Deno.test("runAttempt() reports the exit code, keeps stdout and stderr apart in the logs and both in the tail", async () => {
  await withDir(async (dir) => {
    const result = await runAttempt(options(dir, "echo out; echo err >&2; exit 3"));
    assert.deepEqual(result.outcome, { kind: "exited", code: 3 });
    assert.equal(await Deno.readTextFile(`${dir}/logs/1.out`), "out\n");
    assert.equal(await Deno.readTextFile(`${dir}/logs/1.err`), "err\n");
    assert.match(result.tail, /out\n/);
    assert.match(result.tail, /err\n/);
    assert.equal(result.logError, null);
  });
});

Deno.test("runAttempt() gives the job its environment variables and runs it in its directory", async () => {
  await withDir(async (dir) => {
    const result = await runAttempt(
      options(dir, 'echo "$QUEUECTL_JOB_ID $(pwd)"', { env: { QUEUECTL_JOB_ID: "job-7" } }),
    );
    assert.equal(result.tail, `job-7 ${await Deno.realPath(dir)}\n`);
  });
});

Deno.test("runAttempt() reports a missing working directory as spawn_failed", async () => {
  await withDir(async (dir) => {
    const result = await runAttempt(options(`${dir}/gone`, "true", {
      stdoutPath: `${dir}/1.out`,
      stderrPath: `${dir}/1.err`,
    }));
    assert.equal(result.outcome.kind, "spawn_failed");
  });
});

Deno.test("runAttempt() on timeout kills the whole process group, forked children included", async () => {
  await withDir(async (dir) => {
    const result = await runAttempt(
      options(dir, `echo $$ > ${dir}/pg; sleep 100 & sleep 100; wait`, { timeoutSeconds: 0.5 }),
    );
    assert.deepEqual(result.outcome, { kind: "timeout", seconds: 0.5 });
    assert.deepEqual(await groupMembers(await readPid(`${dir}/pg`)), []);
  });
});

Deno.test("runAttempt() with a worker's permissions (--allow-run=sh only) still kills the group on timeout, TERM-deaf children too", async () => {
  await withDir(async (dir) => {
    const script = `${dir}/attempt.ts`;
    await Deno.writeTextFile(
      script,
      `import { runAttempt } from ${JSON.stringify(RUNNER_URL)};
const r = await runAttempt({
  command: "trap '' TERM; echo $$ > ${dir}/pg; sleep 100 & sleep 100; wait",
  cwd: ${JSON.stringify(dir)}, timeoutSeconds: 0.5, maxLogBytes: 4096,
  stdoutPath: "${dir}/1.out", stderrPath: "${dir}/1.err",
});
console.log(JSON.stringify(r.outcome));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--quiet",
        "--allow-run=sh",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      kind: "timeout",
      seconds: 0.5,
    });
    assert.deepEqual(await groupMembers(await readPid(`${dir}/pg`)), []);
  });
});

Deno.test("runAttempt() stopped by its signal ends as the reason says and leaves no process", async () => {
  await withDir(async (dir) => {
    for (const reason of ["cancelled", "stopped"] as const) {
      const ctl = new AbortController();
      const pidFile = `${dir}/${reason}`;
      const running = runAttempt(
        options(dir, `echo $$ > ${pidFile}; sleep 100 & sleep 100; wait`, { signal: ctl.signal }),
      );
      // Stopped once the shell and both its children run, so that there is a group to kill.
      let pgid = 0;
      await waitFor(async () => {
        pgid = await readPid(pidFile).catch(() => 0);
        return pgid > 0 && (await groupMembers(pgid)).length === 3;
      }, { timeoutMs: 10_000, what: "the job's shell and its two sleeps" });
      ctl.abort(reason);
      const result = await running;
      assert.deepEqual(result.outcome, { kind: reason });
      assert.deepEqual(await groupMembers(pgid), []);
    }
  });
});

Deno.test("runAttempt() ends when the shell exits even if a process that left the group (setsid) keeps the pipe open", async () => {
  await withDir(async (dir) => {
    const began = Date.now();
    try {
      const result = await runAttempt(
        options(dir, `setsid sh -c 'echo $$ > ${dir}/escaped; exec sleep 60' & echo started`),
      );
      assert.deepEqual(result.outcome, { kind: "exited", code: 0 });
      assert.equal(result.tail, "started\n");
      assert.ok(Date.now() - began < 15_000, "the attempt did not wait for the escaped process");
    } finally {
      const escaped = await readPid(`${dir}/escaped`).catch(() => 0);
      if (escaped > 0) Deno.kill(escaped, "SIGKILL");
    }
  });
});

Deno.test("runAttempt() keeps binary output byte for byte and decodes the tail leniently", async () => {
  await withDir(async (dir) => {
    const result = await runAttempt(options(dir, String.raw`printf 'a\377\000b\303\251'`));
    assert.deepEqual([...await Deno.readFile(`${dir}/logs/1.out`)], [
      0x61,
      0xff,
      0x00,
      0x62,
      0xc3,
      0xa9,
    ]);
    assert.equal(result.tail, "a\uFFFD\u0000bé");
  });
});

Deno.test("runAttempt() caps a large output to about maxLogBytes across .out and .err", async () => {
  await withDir(async (dir) => {
    const result = await runAttempt(
      options(dir, "yes 0123456789 | head -c 3000000; yes e | head -c 3000000 >&2", {
        maxLogBytes: 100_000,
      }),
    );
    assert.deepEqual(result.outcome, { kind: "exited", code: 0 });
    const out = (await Deno.stat(`${dir}/logs/1.out`)).size;
    const err = (await Deno.stat(`${dir}/logs/1.err`)).size;
    assert.ok(out + err <= 100_000 + 2 * 64, `logs hold ${out} + ${err} bytes`);
    assert.ok(result.tail.length <= 16 * 1024);
  });
});
