/**
 * The peers queuectl is measured against, on the same machine in the same run: the
 * fork/exec floor (`xargs -P2 sh -c true`, a bare `sh -c true`) and task-spooler
 * (`tsp -S 2`), each tsp server isolated by its own TMPDIR and TS_SOCKET.
 * @module
 */
import { pidsWithEnv, run, runOk, signal, sleep, withTempDir } from "./_harness.ts";

/** task-spooler refuses new clients beyond about this many queued jobs ("queue full"). */
export const TSP_MAX_QUEUED = 990;

/**
 * Seconds to run `n` `sh -c true` with `xargs -P2` (one process per job). With `group`,
 * each runs under `setsid --wait`, in its own process group as queuectl runs jobs: the
 * fork/exec floor of anything that can kill a job's whole process tree.
 */
export async function floorDrainSeconds(n: number, group = false): Promise<number> {
  const job = group ? "setsid --wait sh -c true" : "sh -c true";
  const r = await runOk(["sh", "-c", `seq ${n} | xargs -P2 -n1 ${job}`]);
  return r.ms / 1000;
}

/** Milliseconds to spawn and reap one `sh -c true` from this harness. */
export async function floorSpawnMs(): Promise<number> {
  return (await runOk(["sh", "-c", "true"])).ms;
}

/** Reports whether task-spooler is installed. */
export async function tspAvailable(): Promise<boolean> {
  try {
    return (await run(["tsp", "-V"])).code === 0;
  } catch {
    return false;
  }
}

/** A private task-spooler server: `tsp(args)` runs the client against it. */
export interface Tsp {
  env: Record<string, string>;
  tsp(args: string[]): Promise<string>;
  /** Runs a shell script with this server's environment; resolves with its stdout. */
  sh(script: string): Promise<{ stdout: string; ms: number }>;
}

/**
 * Runs `fn` with a fresh tsp server (`tsp -S 2`) in its own temp dir. Afterwards it kills
 * running jobs (`tsp -k`), shuts the server down (`tsp -K`) and kills by pid any process
 * still carrying this server's unique TS_SOCKET (job clients that outlive the server).
 */
export function withTsp<T>(fn: (t: Tsp) => Promise<T>): Promise<T> {
  return withTempDir("queuectl-bench-tsp-", async (dir) => {
    const socket = `${dir}/socket`;
    const env = { TMPDIR: dir, TS_SOCKET: socket, TS_MAXFINISHED: "100000" };
    const t: Tsp = {
      env,
      tsp: async (args) => (await runOk(["tsp", ...args], { env, cwd: dir })).stdout.trim(),
      sh: async (script) => {
        const r = await runOk(["sh", "-c", script], { env, cwd: dir });
        return { stdout: r.stdout, ms: r.ms };
      },
    };
    try {
      await t.tsp(["-S", "2"]);
      return await fn(t);
    } finally {
      await run([
        "sh",
        "-c",
        "for id in $(tsp -l | awk '$2==\"running\"{print $1}'); do tsp -k $id; done",
      ], {
        env,
        cwd: dir,
      }).catch(() => {});
      await run(["tsp", "-K"], { env, cwd: dir }).catch(() => {});
      await sleep(100);
      for (const pid of pidsWithEnv(`TS_SOCKET=${socket}`)) signal(pid, "SIGKILL");
    }
  });
}

/** Queues two `sleep` jobs that hold both slots; returns their ids. */
export async function tspBlock(t: Tsp): Promise<string[]> {
  return [await t.tsp(["sleep", "600"]), await t.tsp(["sleep", "600"])];
}

/** Queues `n` `sh -c true` jobs from one shell loop; returns the id of the last. */
export async function tspQueue(t: Tsp, n: number): Promise<number> {
  const r = await t.sh(`for i in $(seq ${n}); do tsp sh -c true; done | tail -n 1`);
  return Number(r.stdout.trim());
}

/** Counts jobs that finished with exit code 0. */
export async function tspFinishedOk(t: Tsp): Promise<number> {
  const list = await t.tsp(["-l"]);
  return list.split("\n").filter((l) => / finished /.test(l) && / 0 +[\d.]+\//.test(l)).length;
}
