/**
 * Test helpers: temp data dirs, running the real CLI as a subprocess, bounded waits, and
 * processes that are always killed by pid.
 * @module
 */

import { alive, killProcessesOf } from "./procs.ts";
import { type TestStore, testStoreFor, type TestStoreHandle } from "./store_mode.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** main.ts of this checkout. */
export const MAIN = `${ROOT}main.ts`;

/** The permission flags the README gives for running the CLI. */
export const CLI_FLAGS = [
  "--unstable-kv",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-sys=hostname",
  "--allow-net",
];

/** How the CLI is started in tests: `deno run … main.ts`, or a compiled binary. */
export function cliCommand(): string[] {
  const binary = Deno.env.get("QUEUECTL_TEST_BINARY");
  if (binary) return [binary];
  return [Deno.execPath(), "run", "--quiet", ...CLI_FLAGS, MAIN];
}

/** A temporary data dir, removed by `cleanup()`. */
export interface TempHome {
  home: string;
  env: Record<string, string>;
  /** Its store: `home/queue.db`, or a KV Connect server in the suite's remote mode. */
  store: TestStoreHandle;
  cleanup(): Promise<void>;
}

/**
 * Makes a temporary QUEUECTL_HOME. Its store is the suite's (see store_mode.ts), or the
 * one given: a second home on `store` is a second host on the same queue.
 */
export async function tempHome(
  options: { store?: TestStoreHandle; mode?: TestStore } = {},
): Promise<TempHome> {
  const home = await Deno.makeTempDir({ prefix: "queuectl-test-" });
  const store = options.store ?? await testStoreFor(home, options.mode);
  const own = options.store === undefined;
  return {
    home,
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", ...store.env },
    store,
    // A safety net: any process still naming this dir (a job's shell, a worker) is killed
    // by pid before the dir goes, so nothing a test started outlives it.
    cleanup: async () => {
      await killProcessesOf(home);
      if (own) await store.stop();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export async function cli(
  home: TempHome,
  args: string[],
  options: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return await runArgv(home, [...cliCommand(), ...args], options);
}

/** Runs any command to completion in the data dir, with the test's environment. */
export async function runArgv(
  home: TempHome,
  argv: string[],
  options: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const [cmd, ...args] = argv;
  const child = new Deno.Command(cmd, {
    args,
    env: { ...home.env, ...options.env },
    cwd: options.cwd ?? home.home,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const stdin = options.stdin;
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the CLI and parses its stdout as JSON, failing loudly on a non-zero exit. */
export async function cliJson<T = unknown>(home: TempHome, args: string[]): Promise<T> {
  const result = await cli(home, [...args, "--json"]);
  if (result.code !== 0) {
    throw new Error(`queuectl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** A process started by a test; `kill()` signals it by pid and waits for it. */
export interface Spawned {
  pid: number;
  child: Deno.ChildProcess;
  kill(signal?: Deno.Signal): Promise<void>;
}

/** Starts the CLI in the background (a foreground worker, say). */
export function cliSpawn(
  home: TempHome,
  args: string[],
  options: { env?: Record<string, string> } = {},
): Spawned {
  const [cmd, ...pre] = cliCommand();
  const child = new Deno.Command(cmd, {
    args: [...pre, ...args],
    env: { ...home.env, ...options.env },
    cwd: home.home,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let done = false;
  const status = child.status.finally(() => done = true);
  return {
    pid: child.pid,
    child,
    async kill(signal: Deno.Signal = "SIGKILL") {
      if (!done) {
        try {
          Deno.kill(child.pid, signal);
        } catch {
          // already gone
        }
      }
      await status;
    },
  };
}

/** Kills a process by pid if it still exists (workers started detached by `worker start`). */
export function killPid(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Reports whether a process exists and has not exited (read with `ps`, not /proc). */
export async function pidAlive(pid: number): Promise<boolean> {
  return await alive(pid);
}

/** Waits until `cond` holds, polling; throws with `what` after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (true) {
    if (await cond()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs}ms waiting for ${options.what ?? "condition"}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** Kills every pid listed by `worker status --json` (a safety net for `finally`). */
export async function killWorkers(home: TempHome): Promise<void> {
  try {
    const result = await cli(home, ["worker", "status", "--json"]);
    for (const w of JSON.parse(result.stdout) as { pid: number }[]) killPid(w.pid);
  } catch {
    // nothing to clean
  }
}

/** Reports whether a file or directory exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
