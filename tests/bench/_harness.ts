/**
 * Benchmark plumbing: summaries of samples, timed child processes that are always killed
 * by pid at the end, /proc readers (CPU ticks, RSS) and bounded waits.
 * @module
 */

/** A set of samples reduced to the figures the report prints. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
  p95: number;
}

/** The value at quantile `q` (0–1) of sorted samples, interpolated linearly. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Reduces samples to median, min–max, quartiles and p95. */
export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    p95: quantile(s, 0.95),
  };
}

/** Resolves after `ms` milliseconds (used only where a fixed pause is the measurement). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `cond` holds, polling; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    }
    await sleep(options.intervalMs ?? 20);
  }
}

/** A child process started by the bench, registered so that it is killed by pid at the end. */
export interface Proc {
  pid: number;
  child: Deno.ChildProcess;
  /** Settles with the exit status (never rejects). */
  status: Promise<Deno.CommandStatus>;
  exited(): boolean;
}

const live = new Map<number, Proc>();

/** What to start. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  stdout?: "null" | "piped";
  stderr?: "null" | "piped";
  stdin?: "null" | "piped";
}

/** Starts a process and registers it for the final kill. */
export function spawn(argv: string[], options: SpawnOptions = {}): Proc {
  const [cmd, ...args] = argv;
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin ?? "null",
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "null",
  }).spawn();
  let done = false;
  const proc: Proc = {
    pid: child.pid,
    child,
    status: child.status.finally(() => {
      done = true;
      live.delete(child.pid);
    }),
    exited: () => done,
  };
  live.set(child.pid, proc);
  return proc;
}

/** What a finished run printed, how it exited and how long it took (spawn to exit). */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a process to completion and times it from just before spawn to its exit. */
export async function run(
  argv: string[],
  options: Omit<SpawnOptions, "stdin"> & { stdin?: Uint8Array; timeoutMs?: number } = {},
): Promise<RunResult> {
  const t0 = performance.now();
  const proc = spawn(argv, {
    ...options,
    stdin: options.stdin ? "piped" : "null",
    stdout: options.stdout ?? "piped",
    stderr: options.stderr ?? "piped",
  });
  const timer = setTimeout(() => signal(proc.pid, "SIGKILL"), options.timeoutMs ?? 600_000);
  try {
    if (options.stdin) {
      const writer = proc.child.stdin.getWriter();
      await writer.write(options.stdin);
      await writer.close();
    }
    const out = await proc.child.output();
    const ms = performance.now() - t0;
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: options.stdout === "null" ? "" : dec.decode(out.stdout),
      stderr: options.stderr === "null" ? "" : dec.decode(out.stderr),
      ms,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a process and throws with its stderr when it exits non-zero. */
export async function runOk(
  argv: string[],
  options: Parameters<typeof run>[1] = {},
): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    const what = argv.slice(-3).join(" ");
    throw new Error(`"${what}" exited ${result.code}: ${result.stderr.trim().slice(0, 400)}`);
  }
  return result;
}

/** Sends a signal to one pid, ignoring a process that is already gone. */
export function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops a process: `signals` in turn (a queuectl worker stops gracefully on the first
 * SIGTERM and by force on the second), then SIGKILL after `graceMs`.
 */
export async function stop(
  proc: Proc,
  options: { signals?: Deno.Signal[]; graceMs?: number } = {},
): Promise<void> {
  for (const sig of options.signals ?? ["SIGTERM"]) {
    if (proc.exited()) break;
    signal(proc.pid, sig);
  }
  const timer = setTimeout(() => signal(proc.pid, "SIGKILL"), options.graceMs ?? 5000);
  await proc.status;
  clearTimeout(timer);
}

/** Kills every registered process that is still running (the bench's `finally`). */
export async function killAll(): Promise<void> {
  const procs = [...live.values()];
  for (const p of procs) signal(p.pid, "SIGTERM");
  for (const p of procs) signal(p.pid, "SIGTERM"); // a worker's second SIGTERM forces it
  const timer = setTimeout(() => procs.forEach((p) => signal(p.pid, "SIGKILL")), 3000);
  await Promise.all(procs.map((p) => p.status));
  clearTimeout(timer);
}

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux). */
export function clockTicks(): Promise<number> {
  return ticksPerSecond ??= (async () => {
    try {
      const r = await run(["getconf", "CLK_TCK"]);
      const n = Number(r.stdout.trim());
      return n > 0 ? n : 100;
    } catch {
      return 100;
    }
  })();
}
let ticksPerSecond: Promise<number> | undefined; // a machine constant: asked once

/** User + system CPU ticks a process has used so far (all its threads). */
export function cpuTicks(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]); // fields 14 (utime) and 15 (stime)
}

/**
 * Runs `fn`; returns its value and the user + system CPU (ms) of this process's children
 * that exited and were reaped meanwhile, with their own reaped descendants (the change in
 * cutime + cstime): what the processes `fn` ran cost.
 */
export async function withReapedCpu<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const ticksPerS = await clockTicks();
  const reapedTicks = () => {
    const text = Deno.readTextFileSync("/proc/self/stat");
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return Number(rest[13]) + Number(rest[14]); // fields 16 (cutime) and 17 (cstime)
  };
  const before = reapedTicks();
  const value = await fn();
  return [value, ((reapedTicks() - before) / ticksPerS) * 1000];
}

/** A field of /proc/<pid>/status in MiB (VmRSS: resident now, VmHWM: peak resident). */
export function memMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!m) throw new Error(`No ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** Pids of processes whose environment holds exactly `entry` (e.g. a unique TS_SOCKET). */
export function pidsWithEnv(entry: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const env = Deno.readFileSync(`/proc/${e.name}/environ`);
      if (new TextDecoder().decode(env).split("\0").includes(entry)) out.push(Number(e.name));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

const tempDirs = new Set<string>();

/** Runs `fn` with a temp dir that is removed afterwards. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  tempDirs.add(dir);
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    tempDirs.delete(dir);
  }
}

/** Removes the temp dirs still in use (after an interrupt). */
export function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  }
}
