/**
 * The worker loop: claim → run → finish, with lease renewal, cancel and stop requests read
 * from the store, and a graceful or forced stop.
 * @module
 */
import type { Attempt, Job } from "./job.ts";
import { outcomeError } from "./job.ts";
import type { Config } from "./config.ts";
import type { BackoffSettings } from "./backoff.ts";
import { attemptLogPath, type Paths } from "./paths.ts";
import { finish, renewLease } from "./state_machine.ts";
import { runAttempt } from "./runner.ts";
import { jobClaimNext } from "./store/claim.ts";
import { jobCommitChange, type JobEntry, jobGet } from "./store/jobs.ts";
import { configLoad } from "./store/config.ts";
import { countsGet, outstanding, queueCountsGet } from "./store/counts.ts";
import { rescue } from "./store/rescue.ts";
import { workerPut, type WorkerRecord, workerRemove, workerStopRequest } from "./store/workers.ts";
import { cancelKey } from "./store/keys.ts";

/** Something a worker did, for its log and for progress output. */
export type WorkerEvent =
  | { kind: "claimed"; job: Job }
  | { kind: "finished"; job: Job; attempt: Attempt }
  | { kind: "fenced"; job: Job; detail: string }
  | { kind: "stopping"; force: boolean };

/** What a worker did over its life. */
export interface WorkerSummary {
  /** Final state of each job this worker finished, by job id (the last finish wins). */
  finished: Map<string, { job: Job; attempt: Attempt }>;
  counts: { completed: number; failed: number; dead: number; cancelled: number; requeued: number };
}

/** What a worker needs. */
export interface WorkerOptions {
  kv: Deno.Kv;
  paths: Paths;
  id: string;
  host: string;
  pid: number;
  /** Jobs run at once by this process. */
  concurrency: number;
  /** Exit when no job is ready or waiting for a retry (delayed jobs are left for later). */
  drain: boolean;
  /** Queues served; null for all. */
  queues: string[] | null;
  onEvent?: (event: WorkerEvent) => void;
  /** Timing knobs; tests shorten them. */
  timing?: Partial<WorkerTiming>;
}

/** How often a worker does its periodic work, in milliseconds. */
export interface WorkerTiming {
  idleMinMs: number;
  idleMaxMs: number;
  heartbeatMs: number;
  controlMs: number;
  rescueMs: number;
  configMs: number;
}

const DEFAULT_TIMING: WorkerTiming = {
  idleMinMs: 5,
  idleMaxMs: 100,
  heartbeatMs: 5000,
  controlMs: 500,
  rescueMs: 250,
  configMs: 2000,
};

/** A running worker: `done` settles when it has stopped; `stop` asks it to. */
export interface WorkerHandle {
  done: Promise<WorkerSummary>;
  /** Graceful: finish running jobs, claim no more. Forced: kill them and put them back. */
  stop(force: boolean): void;
}

/** The backoff settings in a config. */
export function backoffOf(config: Config): BackoffSettings {
  return {
    base: config["backoff-base"],
    maxSeconds: config["max-backoff"],
    jitter: config["backoff-jitter"],
  };
}

/** Starts a worker in this process. */
export function startWorker(options: WorkerOptions): WorkerHandle {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const { kv } = options;
  const stopCtl = new AbortController();
  const forceCtl = new AbortController();
  const summary: WorkerSummary = {
    finished: new Map(),
    counts: { completed: 0, failed: 0, dead: 0, cancelled: 0, requeued: 0 },
  };
  const running = new Map<string, AbortController>();
  let config: Config;
  let configAt = 0;
  let rescueAt = 0;
  const emit = (event: WorkerEvent) => options.onEvent?.(event);

  const stop = (force: boolean) => {
    if (!stopCtl.signal.aborted) emit({ kind: "stopping", force });
    stopCtl.abort();
    if (force && !forceCtl.signal.aborted) {
      forceCtl.abort();
      for (const ctl of running.values()) ctl.abort("stopped");
    }
  };

  const record: WorkerRecord = {
    id: options.id,
    pid: options.pid,
    host: options.host,
    started_at: new Date().toISOString(),
    heartbeat_at: new Date().toISOString(),
    concurrency: options.concurrency,
    queues: options.queues,
  };

  async function currentConfig(): Promise<Config> {
    const now = Date.now();
    if (!config || now - configAt >= timing.configMs) {
      config = await configLoad(kv);
      configAt = now;
    }
    return config;
  }

  async function maybeRescue(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - rescueAt < timing.rescueMs) return;
    rescueAt = now;
    await rescue(kv, {
      now: new Date(),
      backoff: backoffOf(await currentConfig()),
      random: Math.random,
    });
  }

  /** Drain is over when no job is ready or waiting for a retry in the served queues. */
  async function nothingLeft(): Promise<boolean> {
    if (running.size > 0) return false;
    if (!options.queues) return outstanding(await countsGet(kv)) === 0;
    for (const queue of options.queues) {
      if (outstanding(await queueCountsGet(kv, queue)) > 0) return false;
    }
    return true;
  }

  async function control(): Promise<void> {
    const request = await workerStopRequest(kv, options.id);
    if (request) stop(request.force);
    if (running.size === 0) return;
    const ids = [...running.keys()];
    for (let i = 0; i < ids.length; i += 10) {
      const entries = await kv.getMany(ids.slice(i, i + 10).map(cancelKey));
      entries.forEach((entry, j) => {
        if (entry.value !== null) running.get(ids[i + j])?.abort("cancelled");
      });
    }
  }

  async function runJob(claimed: JobEntry): Promise<void> {
    const cfg = await currentConfig();
    const token = claimed.job.lease_token!;
    let current = claimed;
    let lost = false;
    const ctl = new AbortController();
    running.set(current.job.id, ctl);
    emit({ kind: "claimed", job: current.job });
    let chain = Promise.resolve();
    const serial = (fn: () => Promise<void>) => (chain = chain.then(fn, fn));
    const renewEvery = Math.max(200, (cfg["lease-seconds"] * 1000) / 3);
    const renewTimer = setInterval(() =>
      void serial(async () => {
        const next = renewLease(current.job, {
          now: new Date(),
          leaseToken: token,
          leaseSeconds: cfg["lease-seconds"],
        });
        if (next.ok) {
          const result = await jobCommitChange(kv, current, next.job);
          if (result) {
            current = { job: next.job, versionstamp: result.versionstamp };
            return;
          }
        }
        const fresh = await jobGet(kv, current.job.id);
        if (fresh && fresh.job.lease_token === token && fresh.job.state === "processing") {
          current = fresh; // changed by something else that kept our lease; renew next time
          return;
        }
        lost = true;
        ctl.abort("stopped"); // someone else owns the job now: stop our copy of it
      }), renewEvery);
    const result = await runAttempt({
      command: current.job.command,
      cwd: current.job.cwd,
      timeoutSeconds: current.job.timeout,
      stdoutPath: attemptLogPath(options.paths.logDir, current.job.id, current.job.attempts, "out"),
      stderrPath: attemptLogPath(options.paths.logDir, current.job.id, current.job.attempts, "err"),
      maxLogBytes: cfg["max-log-bytes"],
      signal: ctl.signal,
    });
    clearInterval(renewTimer);
    await chain;
    running.delete(current.job.id);
    const finishedAt = new Date();
    const attempt: Attempt = {
      job_id: current.job.id,
      attempt: current.job.attempts,
      worker_id: options.id,
      host: options.host,
      started_at: current.job.started_at!,
      finished_at: finishedAt.toISOString(),
      duration_ms: Math.round(result.durationMs),
      outcome: result.outcome,
      exit_code: result.outcome.kind === "exited" ? result.outcome.code : null,
      error: [outcomeError(result.outcome), result.logError].filter((e) => e).join("; ") || null,
      output_tail: result.tail,
    };
    for (let tries = 0; tries < 5 && !lost; tries++) {
      const next = finish(current.job, {
        now: finishedAt,
        leaseToken: token,
        outcome: result.outcome,
        backoff: backoffOf(cfg),
        random: Math.random(),
      });
      if (!next.ok) {
        emit({ kind: "fenced", job: current.job, detail: next.detail });
        return;
      }
      const committed = await jobCommitChange(kv, current, next.job, {
        attempt,
        more: (op) => op.delete(cancelKey(current.job.id)),
      });
      if (committed) {
        tally(next.job);
        summary.finished.set(next.job.id, { job: next.job, attempt });
        emit({ kind: "finished", job: next.job, attempt });
        return;
      }
      const fresh = await jobGet(kv, current.job.id);
      if (!fresh) return;
      current = fresh;
    }
    emit({ kind: "fenced", job: current.job, detail: "lease was taken over; result discarded" });
  }

  function tally(job: Job) {
    if (job.state === "completed") summary.counts.completed++;
    else if (job.state === "failed") summary.counts.failed++;
    else if (job.state === "dead") summary.counts.dead++;
    else if (job.state === "cancelled") summary.counts.cancelled++;
    else if (job.state === "pending") summary.counts.requeued++;
  }

  function idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stopCtl.signal.aborted) return resolve();
      const onStop = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        stopCtl.signal.removeEventListener("abort", onStop);
        resolve();
      }, ms);
      stopCtl.signal.addEventListener("abort", onStop, { once: true });
    });
  }

  async function lane(): Promise<void> {
    let wait = timing.idleMinMs;
    while (!stopCtl.signal.aborted) {
      await maybeRescue();
      const cfg = await currentConfig();
      const claimed = await jobClaimNext(kv, {
        workerId: options.id,
        leaseSeconds: cfg["lease-seconds"],
        now: new Date(),
        queues: options.queues ?? undefined,
      });
      if (claimed.kind === "claimed") {
        wait = timing.idleMinMs;
        await runJob(claimed.entry);
        continue;
      }
      if (claimed.kind === "contended") continue;
      if (options.drain && await nothingLeft()) break;
      await idle(wait);
      wait = Math.min(wait * 2, timing.idleMaxMs);
    }
  }

  const done = (async () => {
    await workerPut(kv, record);
    const heartbeat = setInterval(() => {
      record.heartbeat_at = new Date().toISOString();
      void workerPut(kv, record).catch(() => {});
    }, timing.heartbeatMs);
    let controlBusy = false;
    const controlTimer = setInterval(() => {
      if (controlBusy) return;
      controlBusy = true;
      control().catch(() => {}).finally(() => controlBusy = false);
    }, timing.controlMs);
    try {
      await maybeRescue(true);
      await Promise.all(Array.from({ length: options.concurrency }, () => lane()));
    } finally {
      clearInterval(heartbeat);
      clearInterval(controlTimer);
      while (controlBusy) await new Promise((r) => setTimeout(r, 5));
      await workerRemove(kv, options.id);
    }
    return summary;
  })();

  return { done, stop };
}
