/**
 * Signalling processes and process groups, and asking whether a pid is alive.
 * Workers hold only `--allow-run=sh`, so a signal goes through `sh -c kill` when
 * `Deno.kill` is not permitted.
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
  const target = pid < 0 ? `-- ${pid}` : String(pid);
  const name = signal.replace(/^SIG/, "");
  const result = await new Deno.Command("sh", {
    args: ["-c", `kill -${name} ${target}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return result.success;
}

/** Reports whether a process with this pid exists on this host (Linux: /proc). */
export function isAlive(pid: number): boolean | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // A zombie (state Z) has exited already.
    const state = status.slice(status.lastIndexOf(")") + 2, status.lastIndexOf(")") + 3);
    return state !== "Z";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    return null; // cannot tell (no /proc, or no permission)
  }
}

/** Pids of the direct children of `parent` (from `ps`; empty when ps is unavailable). */
export async function childPids(parent: number): Promise<number[]> {
  try {
    const out = await new Deno.Command("ps", {
      args: ["-A", "-o", "pid=,ppid="],
      stdout: "piped",
      stderr: "null",
    }).output();
    const pids: number[] = [];
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (ppid === parent && pid > 0) pids.push(pid);
    }
    return pids;
  } catch {
    return [];
  }
}
