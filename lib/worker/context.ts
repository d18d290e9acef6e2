/**
 * What a worker's units share, passed to each explicitly: who the worker is, its timing,
 * its settings as last read, and the state each unit owns (control, wake-ups, upkeep, the
 * work left after commits, the summary).
 * @module
 */
import type { Config } from "../config.ts";
import type { Paths } from "../paths.ts";
import type { ClaimCacheState } from "../store/claim.ts";
import { configLoad } from "../store/config.ts";
import type { LaneStats } from "../store/stats.ts";
import type { ControlState } from "./control.ts";
import type { StopSource, WorkerEvent, WorkerSummary } from "./events.ts";
import type { OutageState } from "./outage.ts";
import type { UpkeepState } from "./upkeep.ts";
import type { Wakeups } from "./wakeups.ts";

/** How often a worker does its periodic work, in milliseconds. */
export interface WorkerTiming {
  idleMinMs: number;
  idleMaxMs: number;
  heartbeatMs: number;
  controlMs: number;
  rescueMs: number;
  /** How often dependents stranded by a process that died mid-release are looked for. */
  sweepMs: number;
  /** How often the due ticks of schedules are fired. */
  scheduleMs: number;
  configMs: number;
}

/** The timing of a worker that is not told otherwise. */
export const DEFAULT_TIMING: WorkerTiming = {
  idleMinMs: 5,
  idleMaxMs: 100,
  heartbeatMs: 5000,
  controlMs: 500,
  rescueMs: 250,
  sweepMs: 2000,
  scheduleMs: 250,
  configMs: 2000,
};

/**
 * On a KV Connect store every request crosses the network: an idle worker there relies on
 * the store watch to wake it (see storeWatchWakeSource) and polls and tidies up rarely,
 * to stay under 2 requests a second.
 */
export const KV_CONNECT_TIMING: Partial<WorkerTiming> = {
  idleMaxMs: 15_000,
  controlMs: 5000,
  rescueMs: 5000,
  sweepMs: 10_000,
  scheduleMs: 3000,
  configMs: 10_000,
};

/** The settings as last read, and when. */
export interface ConfigCache {
  config: Config | null;
  at: number;
}

/** Store errors in a row across the lanes, and the one that made the worker give up. */
export interface ErrorState {
  inARow: number;
  fatal: Error | null;
}

/** The time (ms since the epoch) the next scheduled job is due; null: none is scheduled. */
export interface NextDue {
  at: number | null;
}

/** Everything a worker's units share. */
export interface WorkerContext {
  kv: Deno.Kv;
  paths: Paths;
  id: string;
  /** This worker's process id (named in its outage marker). */
  pid: number;
  host: string;
  /** Queues served; null for all. */
  queues: string[] | null;
  /** Exit when no job is ready or waiting for a retry. */
  drain: boolean;
  timing: WorkerTiming;
  emit: (event: WorkerEvent) => void;
  /** Stops the worker (reporting it once). */
  stop: (force: boolean, source: StopSource) => void;
  config: ConfigCache;
  /** The lanes' shared claim cache, every part of it kept. */
  claims: Required<ClaimCacheState>;
  control: ControlState;
  wakeups: Wakeups;
  /**
   * When the next scheduled job (a delay, a retry's backoff) is due, as the rescuer last
   * read it; idle lanes wake for it. Null where the rescuer polls often (a local file).
   */
  nextDue: NextDue | null;
  upkeep: UpkeepState;
  /** Work left after finishing commits landed, awaited before the worker exits. */
  landing: Set<Promise<void>>;
  summary: WorkerSummary;
  errors: ErrorState;
  /** Each lane's statistics record of the current minute, as it last wrote it. */
  laneStats: Map<number, LaneStats>;
  /** Whether the store is unavailable (and since when), or when it last came back. */
  outage: OutageState;
}

/** The settings, read again once they are `timing.configMs` old. */
export async function configCurrent(ctx: WorkerContext): Promise<Config> {
  const now = Date.now();
  if (!ctx.config.config || now - ctx.config.at >= ctx.timing.configMs) {
    ctx.config.config = await configLoad(ctx.kv);
    ctx.config.at = now;
  }
  return ctx.config.config;
}
