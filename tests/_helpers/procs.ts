/**
 * Test helpers about processes on this host, read with `ps` (Deno wants --allow-all to
 * read /proc, and tests run with narrower permissions): whether a pid lives, the children
 * and the process group of a process, and a sweep that kills (by pid) every process whose
 * command line names a test's temp dir, so that nothing a test started outlives it.
 * @module
 */

interface Row {
  pid: number;
  ppid: number;
  pgid: number;
  zombie: boolean;
  args: string;
}

/** Every process on this host (from `ps -A`). */
async function table(): Promise<Row[]> {
  const out = await new Deno.Command("ps", {
    args: ["-A", "-ww", "-o", "pid=,ppid=,pgid=,stat=,args="],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const rows: Row[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s?(.*)$/.exec(line);
    if (!m) continue;
    rows.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      pgid: Number(m[3]),
      zombie: m[4].startsWith("Z"),
      args: m[5],
    });
  }
  return rows;
}

/** Reports whether a process exists and has not exited (a zombie has). */
export async function alive(pid: number): Promise<boolean> {
  return (await table()).some((r) => r.pid === pid && !r.zombie);
}

/** Live (not zombie) processes in process group `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  return (await table()).filter((r) => r.pgid === pgid && !r.zombie).map((r) => r.pid);
}

/** Children of `parent` that lead their own process group: a worker's running jobs. */
export async function jobGroupsOf(parent: number): Promise<number[]> {
  return (await table()).filter((r) => r.ppid === parent && r.pgid === r.pid && !r.zombie)
    .map((r) => r.pid);
}

function kill(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false; // already gone
  }
}

/**
 * SIGKILLs the groups in `groups` that still hold a process naming `dir` (a test's temp
 * dir), or that are listed in `ownGroups` (groups whose leader the test saw start), then
 * every other process whose command line mentions `dir`. Returns how many were killed.
 */
export async function killProcessesOf(
  dir: string,
  ownGroups: Iterable<number> = [],
): Promise<number> {
  const rows = await table();
  let killed = 0;
  for (const pgid of new Set(ownGroups)) {
    if (rows.some((r) => r.pgid === pgid && !r.zombie) && kill(-pgid)) killed++;
  }
  for (const r of rows) {
    if (r.pid !== Deno.pid && !r.zombie && r.args.includes(dir) && kill(r.pid)) killed++;
  }
  return killed;
}

/** The peak resident memory of a process in bytes (VmHWM), or null when unknown. */
export async function peakMemoryBytes(pid: number): Promise<number | null> {
  // Read through `cat`: Deno itself would want --allow-all to read /proc.
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const match = /^VmHWM:\s+(\d+) kB/m.exec(new TextDecoder().decode(out.stdout));
  return match ? Number(match[1]) * 1024 : null;
}

/** A process's argv, read from /proc through `cat` (Deno wants --allow-all for /proc). */
export async function processArgv(pid: number): Promise<string[]> {
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/cmdline`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\0");
}
