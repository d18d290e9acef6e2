/**
 * Starting and stopping worker processes: the worker command line with its narrow
 * permissions, detached spawning, and graceful or forced stops on this and other hosts.
 * @module
 */
import { dirname, ENV_VARS, type Paths, remoteStore, TOKEN_ENV, wakeSocketPath } from "./paths.ts";
import {
  isAlive,
  jobGroupsOf,
  type ProcessInfo,
  processInfo,
  processTable,
  sendSignal,
} from "./process.ts";
import { finish } from "./state_machine.ts";
import { type OutageMarker, outageMarkersRead } from "./worker/outage.ts";
import { OperationError } from "./errors.ts";

import { unreportedAttempt } from "./job.ts";
import { configLoad } from "./store/config.ts";
import { backoffSettings } from "./config.ts";
import { jobCommitChange, jobGetMany, jobList, jobListIds } from "./store/jobs.ts";
import {
  isBeating,
  workerList,
  type WorkerRecord,
  workerRemove,
  workerRequestStop,
} from "./store/workers.ts";

/** How this program is running: what a worker process must be started from. */
export interface LaunchContext {
  /** True in a `deno compile` binary (`Deno.build.standalone`). */
  standalone: boolean;
  /** `Deno.execPath()`: the deno binary, or the compiled binary itself. */
  execPath: string;
  /** `Deno.mainModule`: a file: or http(s): URL of main.ts. */
  mainModule: string;
}

/** What the worker process is asked to do. */
export interface WorkerArgs {
  paths: Paths;
  /** The `--db` given to this command, passed on to the worker. */
  dbOverride?: string;
  workerId: string;
  logFile: string;
  concurrency: number;
  queues: string[] | null;
}

/**
 * The permissions a worker runs with under `deno run`: only what it needs. Its network is
 * its own wake-up socket alone, when it can have one (see wakeSocketPath), or, for a KV
 * Connect store, that store's host. FFI (libc, to start jobs' shells) grants it nothing
 * new: it runs arbitrary shell commands already.
 */
export function workerPermissionFlags(paths: Paths, workerId: string): string[] {
  const remote = remoteStore(paths.dbPath);
  if (remote) {
    // A KV Connect store: the network is that store's host alone, and the token comes
    // from the environment (never from the command line).
    return [
      `--allow-read=${paths.dataDir}`,
      `--allow-write=${paths.dataDir}`,
      "--allow-run=sh,setsid",
      "--allow-ffi",
      `--allow-env=${[...ENV_VARS, TOKEN_ENV].join(",")}`,
      "--allow-sys=hostname",
      `--allow-net=${remote.host}`,
    ];
  }
  const dirs = [...new Set([paths.dataDir, dirname(paths.dbPath)])].join(",");
  const socket = wakeSocketPath(paths.dbPath, workerId);
  return [
    `--allow-read=${dirs}`,
    `--allow-write=${dirs}`,
    "--allow-run=sh,setsid",
    // Jobs' shells start through posix_spawn in libc (its own session, no setsid exec).
    "--allow-ffi",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--allow-sys=hostname",
    ...(socket ? [`--allow-net=unix:${socket}`] : []),
  ];
}

/**
 * The command line that starts one worker process. A compiled binary runs itself (its
 * permissions were fixed at compile time); under `deno run` it is the deno binary with
 * `run`, the worker's narrow permission flags and the main module.
 */
export function workerCommandLine(launch: LaunchContext, worker: WorkerArgs): string[] {
  const tail = [
    "worker",
    "run",
    "--worker-id",
    worker.workerId,
    "--log-file",
    worker.logFile,
    "--concurrency",
    String(worker.concurrency),
    ...(worker.dbOverride ? ["--db", worker.dbOverride] : []),
    ...(worker.queues ? ["--queue", worker.queues.join(",")] : []),
  ];
  if (launch.standalone) return [launch.execPath, ...tail];
  const remote = /^https?:/.test(launch.mainModule);
  const importFlag = remote ? [`--allow-import=${new URL(launch.mainModule).host}`] : [];
  return [
    launch.execPath,
    "run",
    "--no-config",
    "--unstable-kv",
    "--no-prompt",
    ...importFlag,
    ...workerPermissionFlags(worker.paths, worker.workerId),
    launch.mainModule,
    ...tail,
  ];
}

/** A new worker id. */
export function newWorkerId(): string {
  return "w-" + crypto.randomUUID().slice(0, 8);
}

/** How long `worker start` waits for its workers to register, by default. */
export const START_TIMEOUT_MS = 15_000;

/** How long workers abandoned by a failed start get to requeue their jobs before SIGKILL. */
const ABANDON_GRACE_MS = 3_000;

/**
 * Stops workers launched by a start that failed: two SIGTERMs (the second kills their jobs
 * and requeues them), then SIGKILL to each process group still there after ABANDON_GRACE_MS
 * (a worker that hangs before it registers, or is stopped), and their records removed.
 */
async function abandonWorkers(
  kv: Deno.Kv,
  started: { id: string; pid: number; exited: Promise<Deno.CommandStatus> }[],
): Promise<void> {
  let gone = 0;
  const exits = started.map((s) => s.exited.then(() => void gone++, () => void gone++));
  for (const signal of ["SIGCONT", "SIGTERM", "SIGTERM"] as const) {
    for (const s of started) await sendSignal(s.pid, signal);
    await new Promise((r) => setTimeout(r, 50));
  }
  const deadline = Date.now() + ABANDON_GRACE_MS;
  while (gone < started.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  // Detached workers lead their own process group: SIGKILL takes their jobs with them.
  for (const s of started) await sendSignal(-s.pid, "SIGKILL");
  await Promise.all(exits);
  for (const s of started) await workerRemove(kv, s.id);
}

/**
 * Starts worker processes detached from this one; returns once each has registered. When
 * one exits or any does not register within `timeoutMs`, every one it started is stopped
 * and an OperationError says so.
 */
export async function spawnWorkers(
  kv: Deno.Kv,
  launch: LaunchContext,
  options: Omit<WorkerArgs, "workerId" | "logFile"> & {
    count: number;
    timeoutMs?: number;
    /** This host: records of its workers whose process is gone are removed first. */
    host?: string;
  },
): Promise<{ id: string; pid: number; logFile: string }[]> {
  if (options.host) await workerListLive(kv, options.host);
  const workerLogDir = `${options.paths.dataDir}/workers`;
  await Deno.mkdir(workerLogDir, { recursive: true, mode: 0o700 });
  const started: {
    id: string;
    pid: number;
    logFile: string;
    exited: Promise<Deno.CommandStatus>;
  }[] = [];
  for (let i = 0; i < options.count; i++) {
    const workerId = newWorkerId();
    const logFile = `${workerLogDir}/${workerId}.log`;
    const [cmd, ...args] = workerCommandLine(launch, { ...options, workerId, logFile });
    const child = new Deno.Command(cmd, {
      args,
      cwd: options.paths.dataDir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
      env: { QUEUECTL_HOME: options.paths.dataDir },
    }).spawn();
    started.push({ id: workerId, pid: child.pid, logFile, exited: child.status });
    child.unref();
  }
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const waiting = new Set(started.map((s) => s.id));
  const failed: string[] = [];
  for (const s of started) {
    s.exited.then((status) => {
      if (waiting.has(s.id)) failed.push(`${s.id} (pid ${s.pid}) exited with ${status.code}`);
    });
  }
  while (waiting.size > 0 && failed.length === 0 && Date.now() < deadline) {
    const records = await workerList(kv);
    for (const r of records) waiting.delete(r.id);
    if (waiting.size > 0) await new Promise((r) => setTimeout(r, 20));
  }
  if (failed.length > 0 || waiting.size > 0) {
    const which = failed.length > 0
      ? failed.join(", ")
      : `${[...waiting].join(", ")} did not start within ${Math.round(timeoutMs / 1000)}s`;
    // A start that fails leaves nothing behind: every worker it launched is stopped.
    await abandonWorkers(kv, started);
    throw new OperationError(
      `Worker failed to start: ${which}; the ${started.length} worker(s) started were stopped; see ${workerLogDir}`,
    );
  }
  return started.map(({ id, pid, logFile }) => ({ id, pid, logFile }));
}

/** How much earlier than its record a worker process may have started (deno's start-up). */
const START_SLACK_MS = 2_000;

/** This host's processes, read once for many checks (null: they cannot be listed). */
type ProcessSnapshot = Map<number, ProcessInfo> | null;

/**
 * Reports whether a worker record is stale: it stopped beating, or it runs on this host
 * and its process is gone (or the pid now belongs to a process started after the worker
 * registered: the pid was reused). Records of other hosts are judged by heartbeat only.
 */
export async function isStale(
  record: WorkerRecord,
  host: string,
  now: Date,
  snapshot?: ProcessSnapshot,
): Promise<boolean> {
  if (!isBeating(record, now)) return true;
  if (record.host !== host) return false;
  return !await isOurWorker(record, snapshot);
}

/** Reports whether the worker's pid on this host is still that worker's process. */
async function isOurWorker(record: WorkerRecord, snapshot?: ProcessSnapshot): Promise<boolean> {
  const info = snapshot === undefined
    ? await processInfo(record.pid)
    : snapshot && (snapshot.get(record.pid) ?? null);
  if (info === undefined || info === null && snapshot === null) return true; // cannot tell
  if (info === null || info.zombie) return false;
  return info.startedAt === null ||
    info.startedAt.getTime() <= Date.parse(record.started_at) + START_SLACK_MS;
}

/** A live worker, and since when it has found the store unavailable (null: it has not). */
export type LiveWorker = WorkerRecord & { store_unavailable_since: string | null };

/**
 * Removes records of workers that are gone; returns the live ones. With `dataDir`, a worker
 * of this host that left an outage marker there (it cannot write to the store, so its
 * heartbeat is old) is live while its process is, and says since when. A store that cannot
 * be written keeps its stale records for a later call to remove.
 */
export async function workerListLive(
  kv: Deno.Kv,
  host: string,
  options: { dataDir?: string } = {},
): Promise<LiveWorker[]> {
  const live: LiveWorker[] = [];
  const now = new Date();
  const records = await workerList(kv);
  let snapshot: ProcessSnapshot = null;
  const ours = records.filter((r) => r.host === host);
  if (ours.length > 0) {
    const table = await processTable();
    snapshot = table && new Map(table.map((p) => [p.pid, p]));
  }
  const markers = options.dataDir
    ? await outageMarkersRead(options.dataDir, ours.map((r) => r.id))
    : new Map<string, OutageMarker>();
  for (const record of records) {
    const marker = markers.get(record.id);
    const stale = marker
      ? !await isOurWorker(record, snapshot)
      : await isStale(record, host, now, snapshot);
    if (stale) await workerRemove(kv, record.id).catch(() => {});
    else {
      const since = marker && marker.back_at === null ? marker.since : null;
      live.push({ ...record, store_unavailable_since: since });
    }
  }
  return live;
}

/** A live worker with the jobs it is running. */
export type WorkerView = LiveWorker & {
  jobs: { id: string; command: string; started_at: string | null }[];
};

/** Live workers (stale records removed) with their current jobs, from the processing index. */
export async function workersView(
  kv: Deno.Kv,
  host: string,
  options: { dataDir?: string } = {},
): Promise<WorkerView[]> {
  const workers = await workerListLive(kv, host, options);
  const processing = await jobList(kv, { state: "processing" });
  return workers.map((w) => ({
    ...w,
    jobs: processing.filter((j) => j.worker_id === w.id).map((j) => ({
      id: j.id,
      command: j.command,
      started_at: j.started_at,
    })),
  }));
}

/** How one worker's stop ended. */
export type StopOutcome =
  | { kind: "stopped" }
  | { kind: "killed"; requeued: string[] }
  | { kind: "requested" };

/** How often `stopWorkers` says what it is still waiting for. */
const WAIT_REPORT_MS = 5000;

/** Stops every live worker: gracefully, then by force after `timeoutSeconds` (or at once). */
export async function stopWorkers(
  kv: Deno.Kv,
  options: {
    host: string;
    timeoutSeconds: number | null;
    force: boolean;
    wait: boolean;
    /** Told every 5 s which workers are still being waited for, and for how long. */
    onWait?: (pending: WorkerRecord[], waitedMs: number) => Promise<void>;
  },
): Promise<{ worker: WorkerRecord; outcome: StopOutcome }[]> {
  const workers = await workerListLive(kv, options.host);
  const results = new Map<string, StopOutcome>();
  const requestedAt = new Date().toISOString();
  for (const w of workers) {
    const local = w.host === options.host;
    // A worker of this host stopped by force is frozen and killed below: a request read
    // first would have it put its jobs back itself, and they would not be reported.
    if (local && options.force) continue;
    await workerRequestStop(kv, w.id, { requested_at: requestedAt, force: options.force });
    if (local) await sendSignal(w.pid, "SIGTERM");
  }
  if (options.force) {
    for (const w of workers.filter((w) => w.host === options.host)) {
      results.set(w.id, await killWorker(kv, w));
    }
  }
  const deadline = options.timeoutSeconds === null
    ? Infinity
    : Date.now() + options.timeoutSeconds * 1000;
  const pending = () => workers.filter((w) => !results.has(w.id));
  const waitStarted = Date.now();
  let told = waitStarted;
  while (options.wait && pending().length > 0 && Date.now() < deadline) {
    if (options.onWait && Date.now() - told >= WAIT_REPORT_MS) {
      told = Date.now();
      await options.onWait(pending(), told - waitStarted);
    }
    const remaining = new Set((await workerList(kv)).map((r) => r.id));
    for (const w of pending()) {
      if (!remaining.has(w.id) || (w.host === options.host && await isAlive(w.pid) === false)) {
        results.set(w.id, { kind: "stopped" });
      }
    }
    if (pending().length > 0) await new Promise((r) => setTimeout(r, 50));
  }
  for (const w of pending()) {
    if (w.host === options.host && Date.now() >= deadline) {
      results.set(w.id, await killWorker(kv, w));
    } else {
      if (Date.now() >= deadline) {
        await workerRequestStop(kv, w.id, { requested_at: requestedAt, force: true });
      }
      results.set(w.id, { kind: "requested" });
    }
  }
  return workers.map((worker) => ({ worker, outcome: results.get(worker.id)! }));
}

/**
 * Kills a worker on this host and its jobs' process groups, and puts its jobs back at once.
 * The worker is frozen first (SIGSTOP) so that it cannot start another job in between.
 */
async function killWorker(kv: Deno.Kv, worker: WorkerRecord): Promise<StopOutcome> {
  if (await isOurWorker(worker)) {
    await sendSignal(worker.pid, "SIGSTOP");
    const groups = await jobGroupsOf(worker.pid);
    await sendSignal(worker.pid, "SIGKILL");
    for (const pgid of groups) await sendSignal(-pgid, "SIGKILL");
  }
  const requeued = await requeueJobsOf(kv, worker);
  await workerRemove(kv, worker.id);
  return { kind: "killed", requeued };
}

/** Puts the jobs a worker held back to pending now (the interrupted run does not count). */
export async function requeueJobsOf(kv: Deno.Kv, worker: WorkerRecord): Promise<string[]> {
  const config = await configLoad(kv);
  const ids = await jobListIds(kv, { state: "processing" });
  const requeued: string[] = [];
  for (const entry of await jobGetMany(kv, ids)) {
    if (entry.job.worker_id !== worker.id) continue;
    const now = new Date();
    const outcome = { kind: "stopped" as const };
    const next = finish(entry.job, {
      now,
      leaseToken: entry.job.lease_token!,
      outcome,
      backoff: backoffSettings(config),
    });
    if (!next.ok) continue;
    const attempt = unreportedAttempt(entry.job, {
      outcome,
      now,
      workerId: worker.id,
      host: worker.host,
    });
    if (await jobCommitChange(kv, entry, next.job, { attempt })) requeued.push(entry.job.id);
  }
  return requeued;
}
