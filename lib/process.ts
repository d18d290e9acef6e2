/**
 * Signalling processes and process groups, and asking about processes on this host:
 * alive? started when? which of a worker's children lead a job's process group?
 * Workers hold only `--allow-run=sh`, so a signal goes through `sh -c kill` when
 * `Deno.kill` is not permitted. Process facts come from /proc when this process may read
 * it (Deno asks for --allow-all there), else from `ps`; null when neither is available.
 * @module
 */

/** Sends `signal` to a process (`pid > 0`) or a process group (`pid < 0`); false if none. */
export async function sendSignal(pid: number, signal: Deno.Signal): Promise<boolean> {
  if (Deno.permissions.querySync({ name: "run" }).state === "granted") {
    try {
      Deno.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
  // `kill -TERM -123` signals group 123 in every sh; dash rejects the `--` form.
  const name = signal.replace(/^SIG/, "");
  const result = await new Deno.Command("sh", {
    args: ["-c", `kill -${name} ${Math.trunc(pid)}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return result.success;
}

/** What queuectl knows about one process on this host. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Its process group. */
  pgid: number;
  /** Exited, not yet reaped by its parent. */
  zombie: boolean;
  /** When it started (to within a second), or null when unknown. */
  startedAt: Date | null;
}

/** Clock ticks per second of /proc times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Reads /proc; null when the process is gone, undefined when /proc cannot be read. */
function procInfo(pid: number, bootMs: number | null): ProcessInfo | null | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    return undefined; // no /proc, or no permission to read it
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[19]);
  return {
    pid,
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    zombie: rest[0] === "Z",
    startedAt: bootMs === null ? null : new Date(bootMs + (ticks / TICKS_PER_SECOND) * 1000),
  };
}

/** The boot time from /proc/stat in ms, or null. */
function bootTimeMs(): number | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n").find((l) =>
      l.startsWith("btime ")
    );
    return line ? Number(line.slice(6)) * 1000 : null;
  } catch {
    return null;
  }
}

/** Rows of `ps` for `selection` (`-A`, or `-p <pid>`); null when ps cannot run. */
async function psInfo(selection: string[]): Promise<ProcessInfo[] | null> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ps", {
      args: [...selection, "-o", "pid=,ppid=,pgid=,stat=,etimes="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch {
    return null; // no ps, or no permission to run it
  }
  const now = Date.now();
  const rows: ProcessInfo[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [pid, ppid, pgid, stat, etimes] = line.trim().split(/\s+/);
    if (!/^\d+$/.test(pid ?? "")) continue;
    rows.push({
      pid: Number(pid),
      ppid: Number(ppid),
      pgid: Number(pgid),
      zombie: stat.startsWith("Z"),
      startedAt: /^\d+$/.test(etimes ?? "") ? new Date(now - Number(etimes) * 1000) : null,
    });
  }
  // ps exits 1 when -p names no process: that is an answer (none), not a failure.
  return out.success || rows.length === 0 ? rows : null;
}

/** One process on this host: null when there is none, undefined when it cannot be told. */
export async function processInfo(pid: number): Promise<ProcessInfo | null | undefined> {
  const fromProc = procInfo(pid, bootTimeMs());
  if (fromProc !== undefined) return fromProc;
  const rows = await psInfo(["-p", String(pid)]);
  if (rows === null) return undefined;
  return rows.find((r) => r.pid === pid) ?? null;
}

/** Every process on this host, or null when they cannot be listed. */
export async function processTable(): Promise<ProcessInfo[] | null> {
  try {
    const boot = bootTimeMs();
    const rows: ProcessInfo[] = [];
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const info = procInfo(Number(entry.name), boot);
      if (info === undefined) throw new Error("unreadable");
      if (info) rows.push(info);
    }
    return rows;
  } catch {
    return await psInfo(["-A"]);
  }
}

/** Reports whether a process with this pid exists on this host (null: cannot tell). */
export async function isAlive(pid: number): Promise<boolean | null> {
  const info = await processInfo(pid);
  if (info === undefined) return null;
  return info !== null && !info.zombie; // a zombie has exited already
}

/** Pids of the direct children of `parent` (empty when processes cannot be listed). */
export async function childPids(parent: number): Promise<number[]> {
  return ((await processTable()) ?? []).filter((p) => p.ppid === parent).map((p) => p.pid);
}

/**
 * The process groups a worker's jobs run in: the children of `workerPid` that lead their
 * own group (each job's `sh` does; helper processes such as `sh -c kill` do not).
 */
export async function jobGroupsOf(workerPid: number): Promise<number[]> {
  return ((await processTable()) ?? [])
    .filter((p) => p.ppid === workerPid && p.pgid === p.pid)
    .map((p) => p.pid);
}

/** Pids of the live processes in process group `pgid` on this host (empty if unknown). */
export async function groupMembers(pgid: number): Promise<number[]> {
  return ((await processTable()) ?? [])
    .filter((p) => p.pgid === pgid && !p.zombie)
    .map((p) => p.pid);
}
