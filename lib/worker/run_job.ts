/**
 * Running one claimed job in a lane: its attempt under a kept lease, with the dependents
 * marker and the next job's candidates read while it runs, then the finishing commit. A
 * job claimed for a worker that is stopping goes back as it was.
 * @module
 */
import type { Config } from "../config.ts";
import { type Attempt, type Job, outcomeError, runNumber } from "../job.ts";
import { attemptLogPath } from "../paths.ts";
import { unclaim } from "../state_machine.ts";
import { runAttempt, type RunOptions, type RunResult } from "../runner.ts";
import { type ClaimCandidates, claimCandidates } from "../store/claim.ts";
import { dependentsMarkerGet, jobCommitChange, type JobEntry } from "../store/jobs.ts";
import { cancelRequestsGet } from "../store/requests.ts";
import { isKvConnect } from "../store/limits.ts";
import { logChunkSink } from "../store/log_chunks.ts";
import { claimOptionsFor } from "./claims.ts";
import { configCurrent, type WorkerContext } from "./context.ts";
import { errorLine } from "./events.ts";
import { finishCommit, type FinishInput, type FinishOutcome, type Next } from "./finish.ts";
import { leaseKeep, storeLeases } from "./lease_keeper.ts";
import { outageFailed, outageOk, outagePause } from "./outage.ts";
import { idle } from "./wakeups.ts";

/**
 * Runs a claimed job in lane `lane`; returns the next job when the commit that finished
 * this one also claimed it (the lane runs it next), else null. `before` is set for a job
 * claimed by such a commit: when the worker is stopping meanwhile, it goes back as it was
 * (unless it changed: then it ends as a stopped run, or cancelled if that was asked for).
 */
export async function runJob(
  ctx: WorkerContext,
  claimed: JobEntry,
  options: { lane: number; before?: Job },
): Promise<Next | null> {
  const ctl = new AbortController();
  if (options.before && ctx.control.stopping.signal.aborted) {
    if ((await cancelRequestsGet(ctx.kv, [claimed.job.id])).size > 0) ctl.abort("cancelled");
    else {
      const back = unclaim(claimed.job, {
        leaseToken: claimed.job.lease_token!,
        before: options.before,
      });
      if (back.ok && await jobCommitChange(ctx.kv, claimed, back.job)) return null;
      ctl.abort("stopped");
    }
  }
  ctx.control.running.set(claimed.job.id, ctl);
  try {
    return await runClaimed(ctx, claimed, ctl, options.lane);
  } finally {
    ctx.control.running.delete(claimed.job.id);
  }
}

/** The attempt's run: its command, logs, limits and environment. */
export function runOptionsFor(
  ctx: WorkerContext,
  job: Job,
  options: { config: Config; signal: AbortSignal },
): RunOptions {
  const run = runNumber(job);
  return {
    command: job.command,
    cwd: job.cwd,
    timeoutSeconds: job.timeout ?? (options.config["job-timeout"] || null),
    stdoutPath: attemptLogPath(ctx.paths.logDir, job.id, run, "out"),
    stderrPath: attemptLogPath(ctx.paths.logDir, job.id, run, "err"),
    maxLogBytes: options.config["max-log-bytes"],
    env: {
      ...job.env,
      QUEUECTL_JOB_ID: job.id,
      QUEUECTL_ATTEMPT: String(run),
      QUEUECTL_WORKER_ID: ctx.id,
    },
    signal: options.signal,
  };
}

/** The attempt record of a run that ended at `finishedAt`. */
export function attemptRecord(
  ctx: WorkerContext,
  job: Job,
  result: RunResult,
  finishedAt: Date,
): Attempt {
  return {
    job_id: job.id,
    attempt: runNumber(job),
    worker_id: ctx.id,
    host: ctx.host,
    started_at: job.started_at!,
    finished_at: finishedAt.toISOString(),
    duration_ms: Math.round(result.durationMs),
    outcome: result.outcome,
    exit_code: result.outcome.kind === "exited" ? result.outcome.code : null,
    error: [outcomeError(result.outcome), result.logError].filter((e) => e).join("; ") || null,
    output_tail: result.tail,
  };
}

/** A run that never started: a forced stop or a cancel came while the job was claimed. */
function notStarted(signal: AbortSignal): RunResult {
  return {
    outcome: { kind: signal.reason === "cancelled" ? "cancelled" : "stopped" },
    durationMs: 0,
    tail: "",
    logError: null,
  };
}

/**
 * Runs a claimed job under its kept lease and records the end; the commit that records it
 * also claims the lane's next job when one is ready (read while this one ran).
 */
async function runClaimed(
  ctx: WorkerContext,
  claimed: JobEntry,
  ctl: AbortController,
  lane: number,
): Promise<Next | null> {
  const config = await configCurrent(ctx);
  const job = claimed.job;
  ctx.emit({ kind: "claimed", job });
  const lease = leaseKeep(storeLeases(ctx.kv), claimed, {
    leaseSeconds: config["lease-seconds"],
    onLost: () => ctl.abort("stopped"), // someone else owns the job now: stop our copy
    // An unavailable store is said once for the worker; the job keeps running meanwhile.
    onError: (error) =>
      outageFailed(ctx, error) || ctx.emit({
        kind: "warning",
        job: lease.current().job,
        message: `lease renewal failed (will retry): ${errorLine(error)}`,
      }),
    onRenewed: () => outageOk(ctx),
  });
  let followUp: Promise<ClaimCandidates | null> | null = null;
  let dependents: Promise<Deno.KvEntryMaybe<Deno.KvU64> | undefined> = Promise.resolve(
    undefined,
  );
  let result: RunResult;
  if (ctl.signal.aborted) result = notStarted(ctl.signal);
  else {
    const sink = isKvConnect(ctx.kv) && config["store-log-bytes"] > 0
      ? logChunkSink(ctx.kv, {
        jobId: job.id,
        attempt: runNumber(job),
        capBytes: config["store-log-bytes"],
        host: ctx.host,
      })
      : null;
    const options = runOptionsFor(ctx, job, { config, signal: ctl.signal });
    if (sink) options.onOutput = sink.push;
    const run = runAttempt(options).then(async (result) => {
      // The output kept in the store is complete before the finishing commit.
      const failed = await sink?.close();
      if (failed) {
        ctx.emit({
          kind: "warning",
          job,
          message: `keeping its output in the store failed: ${failed}`,
        });
      }
      return result;
    }); // spawns at once
    dependents = dependentsMarkerGet(ctx.kv, job.id).catch(() => undefined);
    if (!ctx.control.stopping.signal.aborted) {
      followUp = claimCandidates(ctx.kv, claimOptionsFor(ctx, config), job.queue)
        .catch(() => null);
    }
    result = await run;
  }
  const held = await lease.release();
  if (held.kind === "lost") {
    ctx.emit({
      kind: "fenced",
      job: held.entry.job,
      detail: "its lease was taken over while it ran",
    });
    return null;
  }
  if (result.logError) {
    ctx.summary.logErrors++;
    ctx.emit({ kind: "warning", job: held.entry.job, message: result.logError });
  }
  const attempt = attemptRecord(ctx, held.entry.job, result, new Date());
  const finished = await finishRidingOut(ctx, held.entry, {
    outcome: result.outcome,
    attempt,
    config,
    lane,
    dependents,
    followUp,
  });
  if (finished.kind === "fenced") {
    ctx.emit({ kind: "fenced", job: finished.job, detail: finished.detail });
  }
  return finished.kind === "finished" ? finished.next : null;
}

/**
 * The finishing commit, tried again while the store is unavailable, for as long as it takes
 * (its lease token still fences it when the store is back). A forced stop gives up waiting:
 * the job then goes back when its lease runs out.
 */
async function finishRidingOut(
  ctx: WorkerContext,
  entry: JobEntry,
  input: FinishInput,
): Promise<FinishOutcome> {
  const forced = ctx.control.forced.signal;
  while (true) {
    try {
      const finished = await finishCommit(ctx, entry, input);
      if (finished.kind === "finished") outageOk(ctx);
      return finished;
    } catch (error) {
      if (!outageFailed(ctx, error) || forced.aborted) throw error;
      // The store coming back (the heartbeat finds it) ends the wait early.
      await idle(outagePause(ctx.outage), { stop: forced, wakeable: ctx.wakeups });
    }
  }
}
