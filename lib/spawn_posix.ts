/**
 * Starting a job's `/bin/sh -c` as the leader of its own session and process group in one
 * posix_spawn through libc (no `setsid` exec in between), its output read from two pipes
 * with poll, its exit awaited with waitpid on a helper thread.
 * @module
 */
import { cString, cStringArray, environ, errno, errnoMessage, type Libc } from "./libc.ts";
import type { ShellProcess, ShellStatus } from "./shell_process.ts";

/** The shell every job runs in, by absolute path: no PATH search per job. */
export const SHELL_PATH = "/bin/sh";

/** posix_spawnattr flags: POSIX_SPAWN_SETSID is 0x80 on glibc and musl alike. */
const SPAWN_SETSIGMASK = 0x08, SPAWN_SETSIGDEF = 0x04, SPAWN_SETSID = 0x80;
/** Linux: O_CLOEXEC (x86_64, aarch64), O_RDONLY, SIGPIPE, EINTR, poll events. */
const O_CLOEXEC = 0o2000000, O_RDONLY = 0, SIGPIPE = 13, EINTR = 4;
const POLLIN = 0x1;
/** How many times a failed waitpid is tried. */
const WAIT_TRIES = 5;
/** How long one poll waits before it looks again (reading can be cancelled within it). */
const POLL_MS = 250;
/** Bytes read from a pipe at a time. */
const READ_BYTES = 64 * 1024;
/** Room for libc's opaque structs (glibc: 336 and 80 bytes; musl less); sigset_t is 128. */
const ATTR_BYTES = 1024, ACTIONS_BYTES = 512, SIGSET_BYTES = 128;

/** Linux signal numbers, for kill() and to name how a job was killed. */
const SIGNALS: Deno.Signal[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

/** The Linux number of a signal (1-based index above). */
function signalNumber(signal: Deno.Signal): number {
  const i = SIGNALS.indexOf(signal);
  if (i < 0) throw new Error(`Unknown signal "${signal}"`);
  return i + 1;
}

/** How a wait status reads: exited with a code, or killed by a signal (pure). */
export function decodeWaitStatus(status: number): ShellStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: 128 + sig, signal: SIGNALS[sig - 1] ?? null };
}

/** The environment the worker started with, read once (it never changes its own). */
let baseEnv: string[] | null = null;

/** The job's environment: the worker's with `extra` set over it. */
function jobEnv(libc: Libc, extra: Record<string, string> | undefined): Uint8Array<ArrayBuffer>[] {
  baseEnv ??= environ(libc);
  const names = new Set(Object.keys(extra ?? {}));
  const kept = names.size === 0
    ? baseEnv
    : baseEnv.filter((entry) => !names.has(entry.slice(0, entry.indexOf("="))));
  return [...kept, ...Object.entries(extra ?? {}).map(([k, v]) => `${k}=${v}`)].map(cString);
}

/** A pipe's two ends, both close-on-exec in this process; throws with the C error. */
function pipe(libc: Libc): [number, number] {
  const fds = new Int32Array(2);
  if (libc.pipe2(fds, O_CLOEXEC) !== 0) {
    throw new Error(`Cannot make a pipe: ${errnoMessage(libc, errno(libc))}`);
  }
  return [fds[0], fds[1]];
}

/**
 * Starts `/bin/sh -c command` in `cwd` as a new session's leader (so its pid is its process
 * group), stdin from /dev/null, stdout and stderr into pipes. Throws when it cannot start
 * (a missing cwd, say), with the C error's message.
 */
export function posixSpawnShell(
  libc: Libc,
  command: string,
  options: { cwd: string; env?: Record<string, string> },
): ShellProcess {
  const [outRead, outWrite] = pipe(libc);
  let errRead: number, errWrite: number;
  try {
    [errRead, errWrite] = pipe(libc);
  } catch (error) {
    libc.close(outRead);
    libc.close(outWrite);
    throw error;
  }
  const attr = new Uint8Array(ATTR_BYTES);
  const actions = new Uint8Array(ACTIONS_BYTES);
  const mask = new Uint8Array(SIGSET_BYTES);
  const defaults = new Uint8Array(SIGSET_BYTES);
  const pid = new Int32Array(1);
  let result = -1;
  try {
    libc.posix_spawnattr_init(attr);
    libc.posix_spawn_file_actions_init(actions);
    try {
      // Deno ignores SIGPIPE; the job gets the default back, and an empty signal mask.
      libc.sigemptyset(mask);
      libc.sigemptyset(defaults);
      libc.sigaddset(defaults, SIGPIPE);
      const flags = SPAWN_SETSID | SPAWN_SETSIGMASK | SPAWN_SETSIGDEF;
      const setup = [
        libc.posix_spawnattr_setflags(attr, flags),
        libc.posix_spawnattr_setsigmask(attr, mask),
        libc.posix_spawnattr_setsigdefault(attr, defaults),
        libc.posix_spawn_file_actions_addopen(actions, 0, cString("/dev/null"), O_RDONLY, 0),
        libc.posix_spawn_file_actions_adddup2(actions, outWrite, 1),
        libc.posix_spawn_file_actions_adddup2(actions, errWrite, 2),
        libc.posix_spawn_file_actions_addchdir_np(actions, cString(options.cwd)),
      ];
      const failed = setup.find((code) => code !== 0);
      if (failed !== undefined) {
        throw new Error(`Cannot prepare the job's shell: ${errnoMessage(libc, failed)}`);
      }
      const argv = ["sh", "-c", command].map(cString);
      const env = jobEnv(libc, options.env);
      result = libc.posix_spawn(
        pid,
        cString(SHELL_PATH),
        actions,
        attr,
        cStringArray(argv),
        cStringArray(env),
      );
    } finally {
      libc.posix_spawn_file_actions_destroy(actions);
      libc.posix_spawnattr_destroy(attr);
    }
  } finally {
    libc.close(outWrite);
    libc.close(errWrite);
    if (result !== 0) {
      libc.close(outRead);
      libc.close(errRead);
    }
  }
  if (result !== 0) {
    const where = result === 2 ? ` (does "${options.cwd}" exist?)` : "";
    throw new Error(`Cannot start ${SHELL_PATH}: ${errnoMessage(libc, result)}${where}`);
  }
  return shellProcess(libc, pid[0], [outRead, errRead]);
}

/** The started shell: its exit, its output and its group's signals. */
function shellProcess(libc: Libc, pid: number, fds: [number, number]): ShellProcess {
  const statusBuffer = new Int32Array(1);
  const status = (async (): Promise<ShellStatus> => {
    // A failed wait (interrupted; the helper thread's errno is not readable here) is tried
    // again a few times; a child reaped by someone else cannot happen in a worker.
    for (let tries = 0; tries < WAIT_TRIES; tries++) {
      const reaped = await libc.waitpid(pid, statusBuffer, 0);
      if (reaped === pid) return decodeWaitStatus(statusBuffer[0]);
    }
    return { code: 255, signal: null };
  })();
  return {
    pid,
    status,
    output: (sinks) => readPipes(libc, fds, sinks),
    signalGroup: (signal) => Promise.resolve(libc.kill(-pid, signalNumber(signal)) === 0),
  };
}

/**
 * Reads both pipes until each ends (or reading is cancelled), handing each chunk to its
 * sink before reading again; closes them at the end. One poll on a helper thread waits for
 * either; the reads themselves are quick (data is there).
 */
function readPipes(
  libc: Libc,
  fds: [number, number],
  sinks: [(bytes: Uint8Array) => Promise<void>, (bytes: Uint8Array) => Promise<void>],
): { done: Promise<void>; cancel: () => Promise<void> } {
  let cancelled = false;
  const open = new Map<number, (bytes: Uint8Array) => Promise<void>>([
    [fds[0], sinks[0]],
    [fds[1], sinks[1]],
  ]);
  const done = (async () => {
    const pollfds = new Int32Array(4); // struct pollfd { int fd; short events, revents; } × 2
    const view = new DataView(pollfds.buffer);
    const buffer = new Uint8Array(READ_BYTES);
    try {
      while (open.size > 0 && !cancelled) {
        const list = [...open.keys()];
        list.forEach((fd, i) => {
          view.setInt32(i * 8, fd, true);
          view.setInt16(i * 8 + 4, POLLIN, true);
          view.setInt16(i * 8 + 6, 0, true);
        });
        const ready = await libc.poll(pollfds, BigInt(list.length), POLL_MS);
        if (ready <= 0) continue; // timed out (or interrupted): look again
        for (const [i, fd] of list.entries()) {
          if (view.getInt16(i * 8 + 6, true) === 0) continue;
          // Ready: data, end of file (POLLHUP) or an error; one read never blocks here.
          const n = Number(libc.read(fd, buffer, BigInt(buffer.length)));
          if (n > 0) await open.get(fd)!(buffer.subarray(0, n));
          else if (n === 0 || errno(libc) !== EINTR) {
            libc.close(fd);
            open.delete(fd);
          }
        }
      }
    } finally {
      for (const fd of open.keys()) libc.close(fd);
      open.clear();
    }
  })();
  return {
    done,
    cancel: async () => {
      cancelled = true;
      await done;
    },
  };
}
