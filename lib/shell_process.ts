/**
 * A job's shell as a process in its own session and process group, started one of two
 * ways: posix_spawn through libc (one spawn, no extra exec), or, where FFI is not permitted
 * or libc not found, Deno's spawn of `setsid --wait /bin/sh -c` (and `detached` where
 * setsid is missing). The one place the shell command line is built.
 * @module
 */
import { libcOpen } from "./libc.ts";
import { sendSignal } from "./process.ts";
import { posixSpawnShell, SHELL_PATH } from "./spawn_posix.ts";

/** How a job's shell ended: its exit code (128 + n when killed), and the signal if killed. */
export interface ShellStatus {
  code: number;
  signal: Deno.Signal | null;
}

/** Takes a chunk of output; the chunk's memory is reused once the promise settles. */
export type OutputSink = (bytes: Uint8Array) => Promise<void>;

/** A started shell: its pid (also its process group id), exit, output and group signals. */
export interface ShellProcess {
  pid: number;
  status: Promise<ShellStatus>;
  /** Reads stdout and stderr until both end, into their sinks; `cancel` stops reading. */
  output(sinks: [OutputSink, OutputSink]): { done: Promise<void>; cancel: () => Promise<void> };
  /** Signals the shell's whole process group; false if there is none. */
  signalGroup(signal: Deno.Signal): Promise<boolean>;
}

/** How this process starts jobs' shells. */
export type SpawnMethod =
  | { kind: "posix_spawn" }
  | { kind: "setsid"; reason: string }
  | { kind: "detached"; reason: string };

let fallback: SpawnMethod | null = null;

/** How jobs' shells start in this process, as of now (the fallback is found at first use). */
export function spawnMethod(): SpawnMethod {
  const libc = libcOpen();
  if (libc.kind === "open") return { kind: "posix_spawn" };
  return fallback ?? { kind: "setsid", reason: libc.reason };
}

/** The argv that runs a job's command the Deno way (through setsid, or plain sh). */
export function shellArgv(
  command: string,
  options: { setsid: boolean },
): { cmd: string; args: string[] } {
  // `setsid` starts the shell as the leader of a new session and process group (pgid = its
  // pid, since it is not a group leader when spawned, it does not fork); it is given the
  // shell's absolute path, so it searches no PATH. Plain `sh` is named as `--allow-run`
  // names it (Deno resolves the name once).
  return options.setsid
    ? { cmd: "setsid", args: ["--wait", SHELL_PATH, "-c", command] }
    : { cmd: "sh", args: ["-c", command] };
}

/** Starts a job's shell in its own session and group; throws when it cannot start. */
export function spawnShell(
  command: string,
  options: { cwd: string; env?: Record<string, string> },
): ShellProcess {
  const libc = libcOpen();
  if (libc.kind === "open") return posixSpawnShell(libc.libc, command, options);
  return denoSpawnShell(command, options, libc.reason);
}

/**
 * Deno's spawn: through `setsid` (Linux util-linux), much cheaper than Deno's `detached`,
 * which forks the whole worker instead of using posix_spawn. Where setsid is missing or
 * not permitted (found at the first spawn), `detached` is used instead.
 */
function denoSpawnShell(
  command: string,
  options: { cwd: string; env?: Record<string, string> },
  reason: string,
): ShellProcess {
  const common = {
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  } as const;
  let child: Deno.ChildProcess | null = null;
  if (fallback?.kind !== "detached") {
    const argv = shellArgv(command, { setsid: true });
    try {
      child = new Deno.Command(argv.cmd, { ...common, args: argv.args }).spawn();
    } catch (error) {
      const missing = error instanceof Deno.errors.NotFound && !/cwd/i.test(String(error));
      const denied = error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied;
      if (!missing && !denied) throw error;
      fallback = {
        kind: "detached",
        reason: `${reason}; setsid ${missing ? "missing" : "denied"}`,
      };
    }
  }
  if (!child) {
    const argv = shellArgv(command, { setsid: false });
    child = new Deno.Command(argv.cmd, { ...common, args: argv.args, detached: true }).spawn();
  }
  const spawned = child;
  return {
    pid: spawned.pid,
    status: spawned.status.then((s) => ({ code: s.code, signal: s.signal })),
    output: (sinks) => {
      const readers = [pump(spawned.stdout, sinks[0]), pump(spawned.stderr, sinks[1])];
      return {
        done: Promise.all(readers.map((r) => r.done)).then(() => {}),
        cancel: async () => {
          await Promise.all(readers.map((r) => r.cancel()));
        },
      };
    },
    signalGroup: (signal) => sendSignal(-spawned.pid, signal),
  };
}

/** Bytes read from a job's pipe at a time, into one reused buffer: at first, and at most. */
const READ_CHUNK_BYTES = { first: 4 * 1024, max: 64 * 1024 };

/**
 * Copies a pipe into a sink until it ends or is cancelled. One buffer is read into again
 * and again (a BYOB reader), so a job printing gigabytes does not churn the worker's heap;
 * it starts small (most jobs print little) and grows while reads fill it.
 */
function pump(
  stream: ReadableStream<Uint8Array>,
  sink: OutputSink,
): { done: Promise<void>; cancel: () => Promise<void> } {
  const reader = stream.getReader({ mode: "byob" });
  const done = (async () => {
    let buffer = new Uint8Array(READ_CHUNK_BYTES.first);
    try {
      while (true) {
        const { value, done } = await reader.read(buffer);
        if (done || !value) return;
        await sink(value); // done with `value` before its buffer is read into again
        const full = value.length === value.buffer.byteLength;
        buffer = full && value.length < READ_CHUNK_BYTES.max
          ? new Uint8Array(Math.min(value.length * 4, READ_CHUNK_BYTES.max))
          : new Uint8Array(value.buffer);
      }
    } catch {
      // The pipe broke or reading was cancelled: what was read is kept.
    }
  })();
  return { done, cancel: () => reader.cancel().catch(() => {}) };
}
