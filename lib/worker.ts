/**
 * The worker loop: claim → run → finish, with lease renewal, cancel and stop requests read
 * from the store, wake-ups from enqueues on this host, and a graceful or forced stop.
 * @module
 */
import type { Attempt, Job } from "./job.ts";
import { outcomeError, runNumber } from "./job.ts";
import { backoffSettings, type Config } from "./config.ts";
import { attemptLogPath, type Paths, wakeSocketPath } from "./paths.ts";
import { finish, renewLease, unclaim } from "./state_machine.ts";
import { runAttempt, type RunResult } from "./runner.ts";
import {
  addClaim,
  type ClaimCache,
  type ClaimCandidates,
  claimCandidates,
  claimFailed,
  type ClaimOptions,
  jobClaimNext,
} from "./store/claim.ts";
import {
  addChange,
  changeLanded,
  dependentsMarkerGet,
  jobCommitChange,
  type JobEntry,
  jobGet,
  releaseStranded,
} from "./store/jobs.ts";
import { configLoad } from "./store/config.ts";
import { outstandingIn } from "./store/counts.ts";
import { rescue } from "./store/rescue.ts";
import { purgeFinished } from "./store/purge.ts";
import { workerPut, type WorkerRecord, workerRemove, workerStopRequest } from "./store/workers.ts";
import { cancelRequestClear, cancelRequestsGet } from "./store/requests.ts";
import { wakeListen, type WakeListener } from "./wakeup.ts";

/** What made a worker stop: a signal, a stop request in the store, or store errors. */
export type StopSource = "signal" | "request" | "error";

/** Something a worker did, for its log and for progress output. */
export type WorkerEvent =
  | { kind: "claimed"; job: Job }
  | { kind: "finished"; job: Job; attempt: Attempt }
  | { kind: "fenced"; job: Job; detail: string }
  | { kind: "stopping"; force: boolean; source: StopSource }
  | { kind: "warning"; message: string; job?: Job }
  | { kind: "error"; message: string };

/** What a worker did over its life. */
export interface WorkerSummary {
  /** Final state of each job this worker finished, by job id (the last finish wins). */
  finished: Map<string, { job: Job; attempt: Attempt }>;
  counts: { completed: number; failed: number; dead: number; cancelled: number; requeued: number };
  /** Attempts whose output could not be written to their log file (disk full, say). */
  logErrors: number;
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
  /** How often dependents stranded by a process that died mid-release are looked for. */
  sweepMs: number;
  configMs: number;
}

const DEFAULT_TIMING: WorkerTiming = {
  idleMinMs: 5,
  idleMaxMs: 100,
  heartbeatMs: 5000,
  controlMs: 500,
  rescueMs: 250,
  sweepMs: 2000,
  configMs: 2000,
};

/** A running worker: `done` settles when it has stopped; `stop` asks it to. */
export interface WorkerHandle {
  /** The summary; rejects when the worker gave up after repeated store errors. */
  done: Promise<WorkerSummary>;
  /** Graceful: finish running jobs, claim no more. Forced: kill them and put them back. */
  stop(force: boolean, source?: StopSource): void;
}

/** Store errors in a row after which a worker stops (its running jobs are put back). */
const MAX_ERRORS_IN_A_ROW = 6;

/**
 * How old the ready jobs read while a job ran may be to pick the next job in the commit
 * that finishes it; older ones (the job ran long) are read again first.
 */
const FOLLOW_UP_FRESH_MS = 25;

/** How long after a lost claim race a worker picks among the best jobs at random. */
const CONTENDED_SPREAD_MS = 2000;

/** Starts a worker in this process. */
export function startWorker(options: WorkerOptions): WorkerHandle {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const { kv } = options;
  const stopCtl = new AbortController();
  const forceCtl = new AbortController();
  const summary: WorkerSummary = {
    finished: new Map(),
    counts: { completed: 0, failed: 0, dead: 0, cancelled: 0, requeued: 0 },
    logErrors: 0,
  };
  const running = new Map<string, AbortController>();
  let config: Config;
  let configAt = 0;
  let rescueAt = 0;
  let errorsInARow = 0;
  // Queue settings read by claims, shared by the lanes (each claim commit re-checks them).
  const claimCache = { current: null as ClaimCache | null, maxAgeMs: 500, contendedAt: 0 };
  let fatal: Error | null = null;
  const emit = (event: WorkerEvent) => options.onEvent?.(event);

  const stop = (force: boolean, source: StopSource = "signal") => {
    const news = !stopCtl.signal.aborted || (force && !forceCtl.signal.aborted);
    if (news) emit({ kind: "stopping", force, source });
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

  let sweepAt = 0;
  const sweepCursor = { after: null as Deno.KvKey | null };
  async function maybeRescue(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - rescueAt < timing.rescueMs) return;
    rescueAt = now;
    if (force || now - sweepAt >= timing.sweepMs) {
      sweepAt = now;
      await releaseStranded(kv, sweepCursor);
    }
    const cfg = await currentConfig();
    await rescue(kv, {
      now: new Date(),
      backoff: backoffSettings(cfg),
      maxLost: cfg["max-lost"],
      random: Math.random,
    });
  }

  let pruneAt = Date.now();
  /**
   * Purges completed jobs older than `keep-completed`, 50 at most per pass, about every
   * half of that period (at most once a minute, at least every 250 ms).
   */
  async function maybePrune(): Promise<void> {
    const cfg = await currentConfig();
    const keepMs = cfg["keep-completed"] * 1000;
    if (keepMs === 0) return;
    const now = Date.now();
    if (now - pruneAt < Math.min(Math.max(keepMs / 2, 250), 60_000)) return;
    pruneAt = now;
    await purgeFinished(kv, options.paths, {
      states: ["completed"],
      olderThan: new Date(now - keepMs),
      scan: 50,
    });
  }

  /** Drain is over when no job is ready or waiting for a retry in the served queues. */
  async function nothingLeft(): Promise<boolean> {
    if (running.size > 0 || landing.size > 0) return false; // releases may add ready jobs
    return await outstandingIn(kv, options.queues) === 0;
  }

  async function control(): Promise<void> {
    const request = await workerStopRequest(kv, options.id);
    if (request && (!stopCtl.signal.aborted || (request.force && !forceCtl.signal.aborted))) {
      stop(request.force, "request");
    }
    if (running.size === 0) return;
    for (const id of await cancelRequestsGet(kv, [...running.keys()])) {
      running.get(id)?.abort("cancelled");
    }
  }

  /**
   * How a lane claims, as of now. Lanes start at their own offset among equally good jobs;
   * after a claim lost a race (other workers want the same heads), at a random one for a
   * while. A lone worker so takes jobs in strict FIFO order, and busy ones rarely collide.
   */
  function claimOptions(cfg: Config, laneIndex: number): ClaimOptions {
    const contended = Date.now() - claimCache.contendedAt < CONTENDED_SPREAD_MS;
    return {
      workerId: options.id,
      leaseSeconds: cfg["lease-seconds"],
      now: new Date(),
      queues: options.queues ?? undefined,
      cache: claimCache,
      spread: laneIndex + (contended ? Math.floor(Math.random() * 1024) : 0),
    };
  }

  /**
   * Runs a claimed job; returns the next job when the commit that finished this one also
   * claimed it (the lane runs it next), else null.
   */
  async function runJob(
    claimed: JobEntry,
    laneIndex: number,
    before?: Job,
  ): Promise<Next | null> {
    const ctl = new AbortController();
    // A job claimed by a finishing commit while the worker was asked to stop goes back as
    // it was, unless it changed meanwhile: then it ends as a stopped run.
    if (before && stopCtl.signal.aborted) {
      // A cancel asked for meanwhile is honoured: the job ends cancelled, not back in line.
      if ((await cancelRequestsGet(kv, [claimed.job.id])).size > 0) ctl.abort("cancelled");
      else {
        const back = unclaim(claimed.job, { leaseToken: claimed.job.lease_token!, before });
        if (back.ok && await jobCommitChange(kv, claimed, back.job)) return null;
        ctl.abort("stopped");
      }
    }
    running.set(claimed.job.id, ctl);
    try {
      return await runClaimed(claimed, ctl, laneIndex);
    } finally {
      running.delete(claimed.job.id);
    }
  }

  /** The ready jobs read while a job ran, for the commit that finishes it; null if none. */
  type FollowUp = Promise<ClaimCandidates | null> | null;

  /** A job claimed by the commit that finished the lane's last one, and its record before. */
  interface Next {
    entry: JobEntry;
    before: Job;
  }

  /**
   * Work left after a finishing commit landed (releasing dependents it did not hold),
   * done while the lane runs its next job; the worker waits for it before it exits.
   */
  const landing = new Set<Promise<void>>();
  function afterLanding(job: Job, work: Promise<void>): void {
    const task = work.catch((error) => {
      try {
        emit({
          kind: "warning",
          job,
          message: `releasing its dependents failed (a later sweep retries): ${errorLine(error)}`,
        });
      } catch {
        // a broken event sink must not fail the worker's exit
      }
    }).finally(() => landing.delete(task));
    landing.add(task);
  }

  /** Whether the lane takes another job after this one (not when stopping). */
  const wantsMore = () => !stopCtl.signal.aborted;

  /**
   * Runs a claimed job under its lease (renewed every third of it) and records the end. The
   * commit that records it also claims the lane's next job when one is ready (read while
   * this one ran): one commit per job instead of two.
   */
  async function runClaimed(
    claimed: JobEntry,
    ctl: AbortController,
    laneIndex: number,
  ): Promise<Next | null> {
    const cfg = await currentConfig();
    const token = claimed.job.lease_token!;
    let current = claimed;
    let lost = false;
    emit({ kind: "claimed", job: current.job });
    let chain = Promise.resolve();
    const serial = (fn: () => Promise<void>) => (chain = chain.then(fn, fn));
    const renewEvery = Math.max(200, (cfg["lease-seconds"] * 1000) / 3);
    const renew = async () => {
      if (lost) return;
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
    };
    const renewTimer = setInterval(() =>
      void serial(() =>
        renew().catch((error) =>
          emit({
            kind: "warning",
            job: current.job,
            message: `lease renewal failed (will retry): ${errorLine(error)}`,
          })
        )
      ), renewEvery);
    const job = current.job;
    const runOptions = {
      command: job.command,
      cwd: job.cwd,
      timeoutSeconds: job.timeout ?? (cfg["job-timeout"] || null),
      stdoutPath: attemptLogPath(options.paths.logDir, job.id, runNumber(job), "out"),
      stderrPath: attemptLogPath(options.paths.logDir, job.id, runNumber(job), "err"),
      maxLogBytes: cfg["max-log-bytes"],
      env: {
        QUEUECTL_JOB_ID: job.id,
        QUEUECTL_ATTEMPT: String(runNumber(job)),
        QUEUECTL_WORKER_ID: options.id,
      },
      signal: ctl.signal,
    };
    // A forced stop (or a cancel) that came while the job was being claimed: do not start it.
    let followUp: FollowUp = null;
    let dependents: Promise<Deno.KvEntryMaybe<Deno.KvU64> | undefined> = Promise.resolve(
      undefined,
    );
    let result: RunResult;
    if (ctl.signal.aborted) {
      result = {
        outcome: { kind: ctl.signal.reason === "cancelled" ? "cancelled" : "stopped" },
        durationMs: 0,
        tail: "",
        logError: null,
      };
    } else {
      const run = runAttempt(runOptions); // spawns at once; the store is read meanwhile
      dependents = dependentsMarkerGet(kv, job.id).catch(() => undefined);
      if (wantsMore()) {
        followUp = claimCandidates(kv, claimOptions(cfg, laneIndex), job.queue)
          .catch(() => null);
      }
      result = await run;
    }
    clearInterval(renewTimer);
    await chain;
    if (lost) {
      emit({
        kind: "fenced",
        job: current.job,
        detail: "its lease was taken over while it ran",
      });
      return null;
    }
    if (result.logError) {
      summary.logErrors++;
      emit({ kind: "warning", job: current.job, message: result.logError });
    }
    const finishedAt = new Date();
    const attempt: Attempt = {
      job_id: current.job.id,
      attempt: runNumber(current.job),
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
    for (let tries = 0; tries < 5; tries++) {
      const next = finish(current.job, {
        now: finishedAt,
        leaseToken: token,
        outcome: result.outcome,
        backoff: backoffSettings(cfg),
        random: Math.random(),
      });
      if (!next.ok) {
        emit({ kind: "fenced", job: current.job, detail: next.detail });
        return null;
      }
      const op = kv.atomic();
      const prepared = await addChange(kv, op, current, next.job, {
        attempt,
        more: (op) => cancelRequestClear(op, current.job.id),
        dependents: tries === 0 ? await dependents : undefined,
      });
      // The first try also claims the next job; a failed commit is retried without it.
      const follow = tries === 0 && wantsMore()
        ? await followUpClaim(op, claimOptions(cfg, laneIndex), await followUp, current.job)
        : null;
      const committed = await op.commit();
      if (committed.ok) {
        afterLanding(next.job, changeLanded(kv, prepared));
        tally(next.job);
        summary.finished.set(next.job.id, { job: next.job, attempt });
        emit({ kind: "finished", job: next.job, attempt });
        if (!follow) return null;
        return {
          entry: { job: follow.job, versionstamp: committed.versionstamp },
          before: follow.before,
        };
      }
      if (follow) await claimFailed(kv, follow.candidates, follow.options);
      const fresh = await jobGet(kv, current.job.id);
      if (!fresh) return null;
      current = fresh;
    }
    emit({ kind: "fenced", job: current.job, detail: "its lease was taken over" });
    return null;
  }

  /**
   * Adds to `op` the claim of the best ready job for this lane's next run, from the jobs
   * read while the last one ran (read again when that was a while ago). Null when none.
   */
  async function followUpClaim(
    op: Deno.AtomicOperation,
    claimOpts: ClaimOptions,
    read: ClaimCandidates | null,
    finishing: Job,
  ): Promise<
    { job: Job; before: Job; candidates: ClaimCandidates; options: ClaimOptions } | null
  > {
    let candidates = read;
    if (!candidates || Date.now() - candidates.at > FOLLOW_UP_FRESH_MS) {
      candidates = await claimCandidates(kv, claimOpts, finishing.queue).catch(() => null);
    }
    if (!candidates) return null;
    for (const entry of candidates.entries) {
      if (entry.job.id === finishing.id) continue;
      const job = await addClaim(kv, op, candidates, entry, claimOpts);
      if (job) return { job, before: entry.job, candidates, options: claimOpts };
    }
    return null;
  }

  function tally(job: Job) {
    if (job.state === "completed") summary.counts.completed++;
    else if (job.state === "failed") summary.counts.failed++;
    else if (job.state === "dead") summary.counts.dead++;
    else if (job.state === "cancelled") summary.counts.cancelled++;
    else if (job.state === "pending") summary.counts.requeued++;
  }

  /** Lanes waiting for work, woken early by a wake-up (see lib/wakeup.ts). */
  const sleepers = new Set<() => void>();
  /** How many wake-ups came (a lane compares it before and after an empty claim). */
  let wakeups = 0;
  const wakeUp = () => {
    wakeups++;
    for (const wake of [...sleepers]) wake();
  };

  /** Waits `ms`, or less when stopping (or, if `wakeable`, when a wake-up comes). */
  function idle(ms: number, wakeable = false): Promise<void> {
    return new Promise((resolve) => {
      if (stopCtl.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        stopCtl.signal.removeEventListener("abort", done);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopCtl.signal.addEventListener("abort", done, { once: true });
      if (wakeable) sleepers.add(done);
    });
  }

  /** The periodic work a lane does between jobs: the rescuer, and pruning (lane 0). */
  async function upkeep(laneIndex: number): Promise<void> {
    await maybeRescue();
    if (laneIndex === 0) await maybePrune();
  }

  /**
   * One claim → run → finish step (and the runs of the jobs each finishing commit claimed
   * after it); false when a drain is over.
   */
  async function step(lastWait: { ms: number }, laneIndex: number): Promise<boolean> {
    await upkeep(laneIndex);
    const cfg = await currentConfig();
    const wakeupsBefore = wakeups;
    const claimed = await jobClaimNext(kv, claimOptions(cfg, laneIndex));
    if (claimed.kind === "claimed") {
      lastWait.ms = timing.idleMinMs;
      let next = await runJob(claimed.entry, laneIndex);
      while (next) {
        // A job is already claimed: an error here is reported, not thrown (it would leave
        // that job to wait out its lease).
        await upkeep(laneIndex).catch((error) =>
          emit({ kind: "error", message: errorLine(error) })
        );
        next = await runJob(next.entry, laneIndex, next.before);
      }
      return true;
    }
    if (claimed.kind === "contended") return true;
    if (options.drain && await nothingLeft()) return false;
    if (wakeups === wakeupsBefore) await idle(lastWait.ms, true);
    // Woken, during the claim or the wait (a job was enqueued on this host): look again at
    // once, and soon after.
    const woken = wakeups !== wakeupsBefore;
    lastWait.ms = woken ? timing.idleMinMs : Math.min(lastWait.ms * 2, timing.idleMaxMs);
    return true;
  }

  /**
   * Steps until stopped. A store error is logged and retried with a growing pause; after
   * MAX_ERRORS_IN_A_ROW the worker stops by force (its jobs go back) and `done` rejects.
   */
  async function lane(laneIndex: number): Promise<void> {
    const wait = { ms: timing.idleMinMs };
    while (!stopCtl.signal.aborted) {
      try {
        if (!await step(wait, laneIndex)) break;
        errorsInARow = 0;
      } catch (error) {
        errorsInARow++;
        emit({ kind: "error", message: errorLine(error) });
        if (errorsInARow >= MAX_ERRORS_IN_A_ROW) {
          fatal ??= error instanceof Error ? error : new Error(String(error));
          stop(true, "error");
          break;
        }
        await idle(Math.min(100 * 2 ** errorsInARow, 5000));
      }
    }
  }

  const done = (async () => {
    await workerPut(kv, record);
    let listener: WakeListener | null = null;
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
      const socket = wakeSocketPath(options.paths.dbPath, options.id);
      if (socket) listener = await wakeListen(socket, wakeUp);
      await maybeRescue(true).catch((error) => emit({ kind: "error", message: errorLine(error) }));
      await Promise.all(Array.from({ length: options.concurrency }, (_, i) => lane(i)));
    } finally {
      while (landing.size > 0) await Promise.allSettled([...landing]);
      clearInterval(heartbeat);
      clearInterval(controlTimer);
      while (controlBusy) await new Promise((r) => setTimeout(r, 5));
      await listener?.close();
      await workerRemove(kv, options.id).catch(() => {});
    }
    if (fatal) throw fatal;
    return summary;
  })();

  return { done, stop };
}

function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}
