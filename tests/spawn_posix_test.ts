import assert from "node:assert/strict";
import { libcOpen } from "../lib/libc.ts";
import { decodeWaitStatus, posixSpawnShell } from "../lib/spawn_posix.ts";
import type { ShellProcess } from "../lib/shell_process.ts";

const opened = libcOpen();
const noLibc = opened.kind !== "open";
const why = opened.kind === "open" ? "" : ` (not run here: ${opened.reason})`;

/** Runs a spawned shell to its end: its status and both outputs as text. */
async function collect(shell: ShellProcess) {
  const parts = [[] as Uint8Array[], [] as Uint8Array[]];
  const reading = shell.output([
    (b) => Promise.resolve(void parts[0].push(b.slice())),
    (b) => Promise.resolve(void parts[1].push(b.slice())),
  ]);
  const [status] = await Promise.all([shell.status, reading.done]);
  const text = (chunks: Uint8Array[]) =>
    new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  return { status, out: text(parts[0]), err: text(parts[1]) };
}

Deno.test("decodeWaitStatus() reads exit codes and killing signals", () => {
  assert.deepEqual(decodeWaitStatus(0), { code: 0, signal: null });
  assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
  assert.deepEqual(decodeWaitStatus(9), { code: 137, signal: "SIGKILL" });
  assert.deepEqual(decodeWaitStatus(15 | 0x80), { code: 143, signal: "SIGTERM" });
});

Deno.test({
  name: `posixSpawnShell() starts /bin/sh as the leader of its own session and process group${why}`,
  ignore: noLibc,
  fn: async () => {
    if (opened.kind !== "open") return;
    const dir = await Deno.makeTempDir({ prefix: "queuectl-spawn-" });
    try {
      const shell = posixSpawnShell(
        opened.libc,
        'cat /proc/$$/stat; pwd; echo "$JOB_VAR" >&2; exit 7',
        {
          cwd: dir,
          env: { JOB_VAR: "from the worker" },
        },
      );
      const { status, out, err } = await collect(shell);
      assert.deepEqual(status, { code: 7, signal: null });
      const [stat, cwd] = out.split("\n");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.equal(Number(fields[2]), shell.pid, "its process group is its pid");
      assert.equal(Number(fields[3]), shell.pid, "its session is its pid");
      assert.equal(cwd, await Deno.realPath(dir));
      assert.equal(err, "from the worker\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `posixSpawnShell() gives jobs SIGPIPE's default action (Deno ignores it)${why}`,
  ignore: noLibc,
  fn: async () => {
    if (opened.kind !== "open") return;
    const shell = posixSpawnShell(
      opened.libc,
      '(while :; do echo y; done; echo "writer kept going" >&2) | head -n 1 >/dev/null; echo done',
      { cwd: "/" },
    );
    const { status, out, err } = await collect(shell);
    assert.deepEqual(status, { code: 0, signal: null });
    assert.equal(out, "done\n");
    assert.equal(err, "", "the writer died of SIGPIPE instead of seeing EPIPE");
  },
});

Deno.test({
  name: `posixSpawnShell() signals the whole group and reports the killing signal${why}`,
  ignore: noLibc,
  fn: async () => {
    if (opened.kind !== "open") return;
    const shell = posixSpawnShell(opened.libc, "sleep 30 & sleep 30; wait", { cwd: "/" });
    const reading = shell.output([() => Promise.resolve(), () => Promise.resolve()]);
    assert.equal(await shell.signalGroup("SIGKILL"), true);
    assert.deepEqual(await shell.status, { code: 137, signal: "SIGKILL" });
    await reading.done; // both sleeps died with the group: the pipes ended
  },
});

Deno.test({
  name:
    `posixSpawnShell() refuses a missing working directory with the C error and leaks no pipe${why}`,
  ignore: noLibc,
  fn: () => {
    if (opened.kind !== "open") return;
    // The lowest free descriptor: the same before and after unless the pipes stayed open.
    const libc = opened.libc;
    const fds = () => {
      const pair = new Int32Array(2);
      assert.equal(libc.pipe2(pair, 0), 0);
      libc.close(pair[0]);
      libc.close(pair[1]);
      return pair[0];
    };
    const before = fds();
    assert.throws(
      () => posixSpawnShell(opened.libc, "true", { cwd: "/nonexistent/queuectl" }),
      /Cannot start \/bin\/sh: No such file or directory/,
    );
    assert.equal(fds(), before, "the pipes it made are closed again");
  },
});

Deno.test("a worker without --allow-ffi starts jobs through setsid and says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-spawn-" });
  try {
    const url = new URL("../lib/shell_process.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/method.ts`,
      `import { spawnMethod } from ${JSON.stringify(url)};\n` +
        `console.log(JSON.stringify(spawnMethod()));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--no-lock", "--quiet", "--allow-run=sh", `${dir}/method.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      kind: "setsid",
      reason: "FFI is not permitted (--allow-ffi)",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
