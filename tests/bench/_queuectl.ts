/**
 * queuectl under test: how it is started (`deno run … main.ts` or a compiled binary),
 * temp data dirs, and stores prepared in-process with jobInsertMany (much faster than the
 * CLI, so a million-job store takes about a minute).
 * @module
 */
import type { Job, JobState } from "../../lib/job.ts";
import { defaultConfig } from "../../lib/config.ts";
import { newJob } from "../../lib/job_spec.ts";
import { newJobId, nextSeq } from "../../lib/ids.ts";
import { resolvePaths } from "../../lib/paths.ts";
import { openStore } from "../../lib/store/open.ts";
import { jobInsertMany } from "../../lib/store/jobs.ts";
import { workerList } from "../../lib/store/workers.ts";
import { CLI_FLAGS, MAIN } from "../_helpers/cli.ts";
import {
  type Proc,
  runOk,
  type RunResult,
  spawn,
  stop,
  waitUntil,
  withTempDir,
} from "./_harness.ts";

/** One way of running queuectl. */
export interface Target {
  /** Column label: "deno run" or "compiled". */
  label: string;
  argv: string[];
  /** How its workers run (`worker run`): a worker's flags add FFI, as `worker start` gives. */
  workerArgv: string[];
}

/** queuectl as the README runs it: `deno run` with the CLI's permission flags. */
export function denoTarget(): Target {
  const run = [Deno.execPath(), "run", "--quiet", ...CLI_FLAGS];
  return { label: "deno run", argv: [...run, MAIN], workerArgv: [...run, "--allow-ffi", MAIN] };
}

/** queuectl as a compiled binary (no FFI: its workers start jobs through setsid). */
export function compiledTarget(binary: string): Target {
  return { label: "compiled", argv: [binary], workerArgv: [binary] };
}

/** A temp QUEUECTL_HOME. */
export interface Home {
  dir: string;
  env: Record<string, string>;
}

/** Runs `fn` with a fresh QUEUECTL_HOME, removed afterwards. */
export function withHome<T>(fn: (home: Home) => Promise<T>): Promise<T> {
  return withTempDir(
    "queuectl-bench-",
    (dir) => fn({ dir, env: { QUEUECTL_HOME: dir, NO_COLOR: "1" } }),
  );
}

/** Runs one CLI command to completion (timed from spawn to exit). */
export function q(
  target: Target,
  home: Home,
  args: string[],
  options: { stdin?: Uint8Array; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runOk([...target.argv, ...args], { env: home.env, cwd: home.dir, ...options });
}

/**
 * Opens the home's store in this process (as the CLI does: busy-tolerant): its file, or
 * the KV Connect server its env names (QUEUECTL_DB, with the token set in this process).
 */
export function openHomeStore(home: Home): Promise<Deno.Kv> {
  if (home.env.DENO_KV_ACCESS_TOKEN) {
    Deno.env.set("DENO_KV_ACCESS_TOKEN", home.env.DENO_KV_ACCESS_TOKEN);
  }
  return openStore(resolvePaths({ QUEUECTL_HOME: home.dir, QUEUECTL_DB: home.env.QUEUECTL_DB }));
}

/** Runs `fn` with the home's store open in this process, closing it afterwards. */
export async function withKv<T>(home: Home, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await openHomeStore(home);
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

/** Shares of each kind of job in a "mixed states" store (they sum to 1). */
export const MIXED: Record<MixKind, number> = {
  completed: 0.55,
  ready: 0.2,
  scheduled: 0.05,
  failed: 0.05,
  dead: 0.08,
  cancelled: 0.07,
  processing: 0,
};
/** Jobs held `processing` in a mixed store (as many as busy workers would hold). */
export const MIXED_PROCESSING = 20;

/** A kind of stored job: a state, with pending split into ready and scheduled. */
export type MixKind = Exclude<JobState, "pending"> | "ready" | "scheduled";

/** A job of `kind` as the store would hold it, for command `command`. */
export function benchJob(kind: MixKind, command: string, now: Date, cwd: string): Job {
  const job = newJob({ command }, {
    id: newJobId(),
    now,
    seq: nextSeq(now.getTime()),
    cwd,
    config: defaultConfig(),
  });
  const iso = now.toISOString();
  const later = new Date(now.getTime() + 86_400_000).toISOString();
  const ran = { attempts: 1, runs: 1, started_at: iso, updated_at: iso };
  switch (kind) {
    case "ready":
      return job;
    case "scheduled":
      return { ...job, next_run_at: later };
    case "processing":
      return {
        ...job,
        ...ran,
        state: "processing",
        worker_id: "w-bench",
        lease_token: crypto.randomUUID(),
        lease_expires_at: later,
      };
    case "completed":
      return { ...job, ...ran, state: "completed", exit_code: 0, finished_at: iso };
    case "failed":
      return {
        ...job,
        ...ran,
        state: "failed",
        exit_code: 1,
        last_error: "exit code 1",
        next_run_at: later,
      };
    case "dead":
      return {
        ...job,
        ...ran,
        attempts: job.max_retries + 1,
        runs: job.max_retries + 1,
        state: "dead",
        exit_code: 1,
        last_error: "exit code 1",
        finished_at: iso,
      };
    case "cancelled":
      return { ...job, state: "cancelled", finished_at: iso };
  }
}

/**
 * Writes `total` jobs into the home's store in-process, in chunks of 5,000 with four
 * jobInsertMany calls in flight (SQLite overlaps their commits with building the next).
 * `kindAt(i)` says which kind the i-th job is. Returns the insert rate in jobs/s.
 */
export async function fillStore(
  kv: Deno.Kv,
  options: { total: number; command: string; cwd: string; kindAt: (i: number) => MixKind },
): Promise<number> {
  const chunk = 5000, inFlight = 4;
  const t0 = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < options.total; i += chunk) {
    if (pending.length >= inFlight) await pending.shift();
    const now = new Date();
    const jobs: Job[] = [];
    for (let j = i; j < Math.min(i + chunk, options.total); j++) {
      jobs.push(benchJob(options.kindAt(j), options.command, now, options.cwd));
    }
    pending.push(
      jobInsertMany(kv, jobs).then((r) => {
        if (r.duplicates.length > 0) throw new Error(`Duplicate ids: ${r.duplicates[0]}`);
      }),
    );
  }
  await Promise.all(pending);
  return options.total / ((performance.now() - t0) / 1000);
}

/** The kind of the i-th job of a mixed store (a deterministic spread of MIXED). */
export function mixedKindAt(): (i: number) => MixKind {
  const kinds = (Object.keys(MIXED) as MixKind[]).filter((k) => MIXED[k] > 0);
  // Stripe the kinds so each appears throughout enqueue order, as in a real queue.
  const cycle: MixKind[] = [];
  for (const k of kinds) for (let n = 0; n < Math.round(MIXED[k] * 100); n++) cycle.push(k);
  return (i) => i < MIXED_PROCESSING ? "processing" : cycle[(i * 37) % cycle.length];
}

/** Starts `worker run` processes and waits until all have registered in the store. */
export async function startWorkers(
  target: Target,
  home: Home,
  options: { count: number; concurrency?: number; drain?: boolean; timeoutMs?: number },
): Promise<Proc[]> {
  const procs: Proc[] = [];
  const stderr: Promise<string>[] = [];
  for (let i = 0; i < options.count; i++) {
    // Events go to a log file (as with `worker start`); stderr keeps only start-up failures.
    const args = ["worker", "run", "--concurrency", String(options.concurrency ?? 1)];
    args.push("--log-file", `${home.dir}/bench-worker-${i}.log`);
    if (options.drain) args.push("--drain");
    const p = spawn([...target.workerArgv, ...args], {
      env: home.env,
      cwd: home.dir,
      stderr: "piped",
    });
    stderr.push(new Response(p.child.stderr).text().catch(() => ""));
    procs.push(p);
  }
  if (options.drain) return procs; // a draining worker may finish before we look
  await withKv(home, (kv) =>
    waitUntil(async () => {
      for (const [i, p] of procs.entries()) {
        if (p.exited()) {
          const code = (await p.status).code;
          throw new Error(
            `worker pid ${p.pid} exited early (code ${code}): ${(await stderr[i]).trim()}`,
          );
        }
      }
      return (await workerList(kv)).length >= options.count;
    }, { timeoutMs: options.timeoutMs ?? 30_000, what: "workers to register" }));
  return procs;
}

/** Stops workers by pid: SIGTERM (graceful; they are idle by then), SIGKILL after 10 s. */
export async function stopWorkers(procs: Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => stop(p, { signals: ["SIGTERM"], graceMs: 10_000 })));
}
