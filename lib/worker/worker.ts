/**
 * A worker: composes the units (lanes, lease keeper, upkeep, control, wake-ups) into one
 * that registers itself, beats its heartbeat, polls its control requests, runs its lanes
 * until stopped (or drained), and leaves no work behind when it exits.
 * @module
 */
import type { Job } from "../job.ts";
import type { Paths } from "../paths.ts";
import { workerPut, type WorkerRecord, workerRemove } from "../store/workers.ts";
import {
  configCurrent,
  DEFAULT_TIMING,
  KV_CONNECT_TIMING,
  type WorkerContext,
  type WorkerTiming,
} from "./context.ts";
import { isKvConnect } from "../store/limits.ts";
import { type FileIdentity, storeFileCheck } from "../store/identity.ts";
import { controlNew, controlPoll, controlStop, storeRequests } from "./control.ts";
import {
  errorLine,
  type StopSource,
  summaryNew,
  type WorkerEvent,
  type WorkerSummary,
} from "./events.ts";
import { landingSettled } from "./finish.ts";
import {
  outageFailed,
  outageNew,
  outageOk,
  outageSettle,
  outageSpare,
  rescueHeld,
} from "./outage.ts";
import { laneRun } from "./lane.ts";
import { type PeriodicTask, upkeepNew, upkeepRun } from "./upkeep.ts";
import { standardTasks } from "./upkeep_tasks.ts";
import { type ScheduleFiring, scheduleFiringStart } from "./schedule_firing.ts";
import {
  socketWakeSource,
  storeWatchWakeSource,
  type WakeSource,
  wakeSourcesListen,
  type WakeSubscription,
  wakeUp,
  wakeupsNew,
} from "./wakeups.ts";

export type { StopSource, WorkerEvent, WorkerSummary } from "./events.ts";
export type { WorkerTiming } from "./context.ts";

/** What a worker needs. */
export interface WorkerOptions {
  kv: Deno.Kv;
  paths: Paths;
  id: string;
  host: string;
  pid: number;
  /** Jobs run at once by this process (its lanes). */
  concurrency: number;
  /** Exit when no job is ready or waiting for a retry (delayed jobs are left for later). */
  drain: boolean;
  /** Queues served; null for all. */
  queues: string[] | null;
  onEvent?: (event: WorkerEvent) => void;
  /** Timing knobs; tests shorten them. */
  timing?: Partial<WorkerTiming>;
  /** Periodic work done besides the standard upkeep (after it, in this order). */
  upkeep?: PeriodicTask[];
  /** Wake-up sources besides this host's socket. */
  wakeSources?: WakeSource[];
  /**
   * The store file this worker opened (a local store); when the file at its path is no
   * longer this one (the data dir was removed or replaced), the worker says so and stops.
   */
  storeFile?: FileIdentity | null;
}

/** A running worker: `done` settles when it has stopped; `stop` asks it to. */
export interface WorkerHandle {
  /** The summary; rejects when the worker gave up after repeated store errors. */
  done: Promise<WorkerSummary>;
  /** Graceful: finish running jobs, claim no more. Forced: kill them and put them back. */
  stop(force: boolean, source?: StopSource): void;
}

/** The state a worker's units share, fresh (exported for tests that drive one unit). */
export function workerContext(options: WorkerOptions): WorkerContext {
  const timing = {
    ...DEFAULT_TIMING,
    ...(isKvConnect(options.kv) ? KV_CONNECT_TIMING : {}),
    ...options.timing,
  };
  const { kv } = options;
  // On a KV Connect store the rescuer and idle lanes poll rarely: they wake in time for
  // the next scheduled job instead (a local file's rescuer runs every 250 ms anyway).
  const nextDue = isKvConnect(kv) ? { at: null } : null;
  const emit = (event: WorkerEvent) => options.onEvent?.(event);
  const control = controlNew();
  const outage = outageNew();
  const config: WorkerContext["config"] = { config: null, at: 0 };
  const spareWaiting = outageSpare(options.paths.dataDir);
  // Right after an outage every lapsed lease is spared for a lease period (their workers
  // renew them); else only those of this host's workers still waiting an outage out.
  const spare = (job: Job) => {
    const leaseMs = (config.config?.["lease-seconds"] ?? 30) * 1000;
    return rescueHeld(outage, Date.now(), leaseMs) ? Promise.resolve(true) : spareWaiting(job);
  };
  return {
    kv,
    paths: options.paths,
    id: options.id,
    pid: options.pid,
    host: options.host,
    queues: options.queues,
    drain: options.drain,
    timing,
    emit,
    stop: (force, source) => {
      if (controlStop(control, force)) emit({ kind: "stopping", force, source });
    },
    config,
    // Queue settings change rarely and every claim commit checks them: on a KV Connect
    // store they are read again less often (a changed setting fails the claim's check).
    claims: {
      current: null,
      maxAgeMs: isKvConnect(kv) ? 5000 : 500,
      contendedAt: 0,
      taken: new Map(),
    },
    control,
    wakeups: wakeupsNew(),
    nextDue: nextDue,
    upkeep: upkeepNew(
      [
        ...standardTasks(kv, options.paths, { ...timing, nextDue }, spare),
        ...options.upkeep ?? [],
      ],
      Date.now(),
    ),
    landing: new Set(),
    summary: summaryNew(),
    errors: { inARow: 0, fatal: null },
    laneStats: new Map(),
    outage,
  };
}

/** Starts a worker in this process. */
export function startWorker(options: WorkerOptions): WorkerHandle {
  const ctx = workerContext(options);
  const { kv, timing, control } = ctx;
  const stop = (force: boolean, source: StopSource = "signal") => ctx.stop(force, source);
  const record: WorkerRecord = {
    id: options.id,
    pid: options.pid,
    host: options.host,
    started_at: new Date().toISOString(),
    heartbeat_at: new Date().toISOString(),
    concurrency: options.concurrency,
    queues: options.queues,
  };

  const done = (async () => {
    await workerPut(kv, record);
    let subscriptions: WakeSubscription[] = [];
    let firing: ScheduleFiring | null = null;
    // The heartbeat is also how a worker finds the store back after an outage (a write that
    // lands); it then beats at once and wakes its lanes.
    const beat = () => {
      record.heartbeat_at = new Date().toISOString();
      workerPut(kv, record).then(() => {
        outageOk(ctx);
        const leaseMs = (ctx.config.config?.["lease-seconds"] ?? 30) * 1000;
        outageSettle(ctx, Date.now(), leaseMs);
      }, (error) => void outageFailed(ctx, error));
    };
    ctx.outage.onBack = () => {
      beat();
      wakeUp(ctx.wakeups);
    };
    const heartbeat = setInterval(() => {
      beat();
      if (options.storeFile) void storeFileWatch(ctx, options.storeFile);
    }, timing.heartbeatMs);
    let controlBusy = false;
    const controlTimer = setInterval(() => {
      if (controlBusy) return;
      controlBusy = true;
      controlPoll(control, storeRequests(kv), options.id)
        .then((polled) => polled.stop && stop(polled.stop.force, "request"))
        .catch((error) => void outageFailed(ctx, error))
        .finally(() => controlBusy = false);
    }, timing.controlMs);
    try {
      const sources = [
        socketWakeSource(options.paths, options.id),
        storeWatchWakeSource(kv),
        ...options.wakeSources ?? [],
      ];
      subscriptions = await wakeSourcesListen(sources, ctx.wakeups);
      await startPass(ctx);
      firing = scheduleFiringStart(kv, {
        everyMs: timing.scheduleMs,
        emit: ctx.emit,
        onError: (error) => outageFailed(ctx, error),
      });
      await Promise.all(Array.from({ length: options.concurrency }, (_, i) => laneRun(ctx, i)));
    } finally {
      await firing?.stop();
      await landingSettled(ctx);
      clearInterval(heartbeat);
      clearInterval(controlTimer);
      while (controlBusy) await new Promise((r) => setTimeout(r, 5));
      await Promise.all(subscriptions.map((s) => s.close()));
      await workerRemove(kv, options.id).catch(() => {});
    }
    if (ctx.errors.fatal) throw ctx.errors.fatal;
    return ctx.summary;
  })();

  return { done, stop };
}

/**
 * Stops the worker by force when the file at its store's path is not the one it opened:
 * the data dir was removed (its writes would go to a deleted file no command sees) or
 * replaced (another store now lives there, which is not this worker's to serve).
 */
async function storeFileWatch(ctx: WorkerContext, opened: FileIdentity): Promise<void> {
  const check = await storeFileCheck(ctx.paths.dbPath, opened);
  if (check.kind === "same" || ctx.control.forced.signal.aborted) return;
  ctx.emit({ kind: "store_gone", path: ctx.paths.dbPath, how: check.kind });
  ctx.stop(true, "store_gone");
}

/** The worker's first upkeep pass (the rescuer and the sweep), before its lanes start. */
async function startPass(ctx: WorkerContext): Promise<void> {
  try {
    const outcome = await upkeepRun(ctx.upkeep, {
      lane: 0,
      now: Date.now(),
      config: await configCurrent(ctx),
      start: true,
    });
    if (outcome.kind === "failed") throw outcome.error;
  } catch (error) {
    ctx.emit({ kind: "error", message: errorLine(error) });
  }
}
