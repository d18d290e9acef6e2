/**
 * `queuectl worker run|start|stop|status`.
 * @module
 */
import { storeFileIdentity } from "../store/identity.ts";
import { errorReason, OperationError, UsageError } from "../errors.ts";
import { startWorker, type WorkerEvent, type WorkerSummary } from "../worker/worker.ts";
import {
  newWorkerId,
  spawnWorkers,
  stopWorkers,
  workersView,
  type WorkerView,
} from "../supervisor.ts";
import { formatDuration, plural, toJson } from "../output/text.ts";
import { type JunitJob, junitReport } from "../output/junit.ts";
import { logTail } from "../capped_log.ts";
import { attemptLogPath, type Paths } from "../paths.ts";
import { type CliContext, readStore, useColor, withStore } from "./context.ts";
import { drainTallyIn } from "../store/counts.ts";
import { renderProgress } from "../output/progress.ts";
import { parseIntOption, parseQueuesOption } from "./args.ts";
import { parseDuration } from "../duration.ts";
import { openStore } from "../store/open.ts";
import { describeWorkers } from "./status.ts";
import { type SpawnMethod, spawnMethod } from "../shell_process.ts";

/** Options of `worker run`. */
export interface WorkerRunOptions {
  drain?: boolean;
  concurrency?: string;
  queue?: string;
  workerId?: string;
  logFile?: string;
  json?: boolean;
  color?: boolean;
  /** Write a JUnit XML report of the jobs this worker finished to this file. */
  report?: string;
}

/** Runs one worker in the foreground until stopped (or, with `--drain`, until no work is left). */
export async function workerRunAction(
  ctx: CliContext,
  paths: Paths,
  options: WorkerRunOptions,
): Promise<number> {
  const concurrency = parseIntOption(options.concurrency ?? "1", "--concurrency", {
    min: 1,
    max: 256,
  });
  const queues = options.queue ? parseQueuesOption(options.queue) : null;
  const id = options.workerId ?? newWorkerId();
  const log = options.logFile ? await openLog(options.logFile) : null;
  const write = (line: string) => {
    const text = `${new Date().toISOString()} [${id}] ${line}\n`;
    if (!log) return ctx.err(text);
    try {
      log.writeSync(new TextEncoder().encode(text));
    } catch {
      // A full disk must not stop the worker: its jobs' states are in the store.
    }
  };
  // A worker waits out another process's lock on the store instead of giving up.
  const kv = await openStore(paths, { waitForLock: true, onWait: write });
  // Which file it opened: the worker stops if the file at the path becomes another one.
  const storeFile = await storeFileIdentity(paths.dbPath);
  const started = performance.now();
  let summary: WorkerSummary;
  // A drain on a terminal draws a progress line instead of a line per job (not under CI,
  // NO_COLOR or --no-color, nor when the events go to a log file).
  const bar = options.drain && !log && ctx.stderrIsTty() && useColor(ctx, options.color, "stderr")
    ? startProgressLine(ctx, kv, queues)
    : null;
  try {
    const handle = startWorker({
      kv,
      paths,
      id,
      host: ctx.hostname(),
      pid: ctx.pid,
      concurrency,
      storeFile,
      drain: options.drain ?? false,
      queues,
      onEvent: (event) => {
        if (!bar) return write(describeEvent(event));
        if (event.kind === "finished") bar.finished(event.job.state);
        else if (event.kind !== "claimed") bar.note(describeEvent(event));
      },
    });
    let signals = 0;
    const signalNames: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const listeners = signalNames.map((name) => {
      const listener = () => {
        write(`received ${name}`);
        handle.stop(++signals > 1, "signal");
      };
      Deno.addSignalListener(name, listener);
      return [name, listener] as const;
    });
    write(
      `started (pid ${ctx.pid}, concurrency ${concurrency}${options.drain ? ", drain" : ""}, ` +
        `${describeSpawn(spawnMethod())})`,
    );
    try {
      summary = await handle.done;
    } catch (error) {
      write(`failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    } finally {
      for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
    }
  } finally {
    await bar?.stop();
    kv.close();
  }
  const elapsed = performance.now() - started;
  write(`stopped after ${formatDuration(elapsed)}`);
  log?.close();
  const dead = [...summary.finished.values()].filter((f) => f.job.state === "dead");
  if (options.drain) {
    const c = summary.counts;
    if (options.json) {
      ctx.out(toJson({
        completed: c.completed,
        failed: c.failed,
        dead: c.dead,
        cancelled: c.cancelled,
        requeued: c.requeued,
        jobs: summary.finished.size,
        elapsed_ms: Math.round(elapsed),
        dead_jobs: dead.map((f) => f.job.id),
      }));
    } else {
      ctx.out(
        `Drained ${summary.finished.size} job(s) in ${formatDuration(elapsed)}: ` +
          `${c.completed} completed, ${
            plural(c.failed, "failed attempt")
          } retried, ${c.dead} dead, ` +
          `${c.cancelled} cancelled\n`,
      );
    }
  }
  if (options.report) {
    const xml = junitReport(await withStreams(paths, [...summary.finished.values()]), {
      name: "queuectl worker run",
      elapsedMs: elapsed,
      timestamp: new Date(Date.now() - elapsed).toISOString(),
      hostname: ctx.hostname(),
    });
    const file = options.report.startsWith("/") ? options.report : `${ctx.cwd()}/${options.report}`;
    try {
      await Deno.writeTextFile(file, xml);
    } catch (error) {
      throw new OperationError(`Cannot write report "${options.report}": ${errorReason(error)}`);
    }
  }
  if (summary.logErrors > 0) {
    const where = options.logFile ? `see ${options.logFile}` : "see the warnings above";
    ctx.err(`${summary.logErrors} attempt(s) could not write their log file; ${where}\n`);
  }
  return dead.length > 0 || summary.logErrors > 0 ? 1 : 0;
}

/** Report entries with each attempt's stdout and stderr tails, read from its log files. */
async function withStreams(paths: Paths, entries: JunitJob[]): Promise<JunitJob[]> {
  return await Promise.all(entries.map(async (entry) => {
    const log = (stream: "out" | "err") =>
      logTail(attemptLogPath(paths.logDir, entry.job.id, entry.attempt.attempt, stream));
    const [stdout, stderr] = await Promise.all([log("out"), log("err")]);
    // A log file is made at its first byte: one missing is a silent stream; both missing,
    // the logs are gone (or the job printed nothing) and the mixed tail stands in.
    if (stdout === null && stderr === null) return entry;
    return { ...entry, streams: { stdout: stdout ?? "", stderr: stderr ?? "" } };
  }));
}

/**
 * The progress line of a drain on a terminal, redrawn four times a second. It counts jobs
 * finished in the served queues since the drain began, whoever finished them, against those
 * plus the jobs still to run: the total stays put while jobs run or dependents are released
 * (or cancelled by a cascade), and grows only when jobs are enqueued.
 */
function startProgressLine(ctx: CliContext, kv: Deno.Kv, queues: string[] | null) {
  const started = performance.now();
  const first = drainTallyIn(kv, queues).catch(() => ({ finished: 0, remaining: 0 }));
  let done = 0, total = 0, dead = 0;
  const draw = async () => {
    try {
      const base = (await first).finished;
      const now = await drainTallyIn(kv, queues);
      done = Math.max(0, now.finished - base);
      total = Math.max(total, done + now.remaining);
    } catch {
      // a busy store: draw what we had
    }
    const line = renderProgress({ done, total, elapsedMs: performance.now() - started, dead });
    ctx.err(`\r\x1b[2K${line}`);
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    draw().finally(() => busy = false);
  }, 250);
  return {
    finished(state: string) {
      if (state === "dead") dead++;
    },
    note(text: string) {
      ctx.err(`\r\x1b[2K${text}\n`);
    },
    async stop() {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 5));
      await draw();
      ctx.err("\n");
    },
  };
}

/** How jobs start, for the worker log's first line (a fallback says why, once). */
function describeSpawn(method: SpawnMethod): string {
  if (method.kind === "posix_spawn") return "jobs via posix_spawn";
  return `jobs via ${method.kind === "setsid" ? "setsid" : "sh, detached"}: ${method.reason}`;
}

function describeEvent(event: WorkerEvent): string {
  switch (event.kind) {
    case "claimed":
      return `${event.job.id} started: attempt ${event.job.attempts} of ${
        event.job.max_retries + 1
      }: ${event.job.command}`;
    case "finished": {
      const { job, attempt } = event;
      const took = formatDuration(attempt.duration_ms);
      if (job.state === "completed") return `${job.id} completed in ${took}`;
      if (job.state === "failed") {
        return `${job.id} failed (${attempt.error}) in ${took}; retry at ${job.next_run_at}`;
      }
      if (job.state === "dead") {
        return `${job.id} dead (${attempt.error}) after ${job.attempts} attempt(s): moved to the DLQ`;
      }
      return `${job.id} ${job.state} (${attempt.error ?? "no error"})`;
    }
    case "fenced":
      return `${event.job.id}: result discarded: ${event.detail}`;
    case "stopping": {
      const why = event.source === "request"
        ? " (stop requested through the store)"
        : event.source === "error"
        ? " (too many store errors)"
        : event.source === "store_gone"
        ? " (its store file is gone)"
        : "";
      return event.force
        ? `stopping now${why}: killing running jobs and putting them back`
        : `stopping${why}: finishing running jobs`;
    }
    case "schedule": {
      const o = event.outcome;
      const missed = o.missed > 0 ? ` (${o.missed} missed tick(s) before it)` : "";
      return o.kind === "fired"
        ? `schedule ${o.name} fired ${o.job.id} for its tick ${o.tick}${missed}`
        : `schedule ${o.name} skipped its tick ${o.tick}: ${o.running} is unfinished${missed}`;
    }
    case "warning":
      return `${event.job ? `${event.job.id}: ` : ""}warning: ${event.message}`;
    case "error":
      return `store error (will retry): ${event.message}`;
    case "store_unavailable":
      return `store unavailable since ${event.since}: ${event.reason}; waiting for it (retrying up to every 30s), running jobs keep running`;
    case "store_gone":
      return `store file ${event.path} was ${event.how} (the data dir removed or replaced): this worker's store is gone; stopping (start workers again for the store now there)`;
    case "store_back":
      return `store back after ${
        formatDuration(event.downMs)
      } (unavailable since ${event.since}); carrying on`;
  }
}

async function openLog(path: string): Promise<Deno.FsFile> {
  return await Deno.open(path, { append: true, create: true, mode: 0o600 });
}

/** Options of `worker start`. */
export interface WorkerStartOptions {
  count?: string;
  concurrency?: string;
  queue?: string;
  foreground?: boolean;
  /** Start the --count workers as that many processes (else one process with their lanes). */
  separate?: boolean;
  json?: boolean;
}

/** Starts detached workers and prints their ids and pids. */
export async function workerStartAction(
  ctx: CliContext,
  paths: Paths,
  options: WorkerStartOptions,
): Promise<number> {
  const count = parseIntOption(options.count ?? "1", "--count", { min: 1, max: 64 });
  const concurrency = parseIntOption(options.concurrency ?? "1", "--concurrency", {
    min: 1,
    max: 256,
  });
  const queues = options.queue ? parseQueuesOption(options.queue) : null;
  if (options.foreground) {
    if (count !== 1) throw new UsageError("Option --foreground runs one worker: drop --count");
    return await workerRunAction(ctx, paths, {
      concurrency: options.concurrency,
      queue: options.queue,
    });
  }
  // One process with every lane by default: its lanes never race each other for a job, and
  // one process costs less than N. --separate keeps N processes (a crash takes one).
  const lanes = count * concurrency;
  if (!options.separate && lanes > 256) {
    throw new UsageError(
      `Invalid --count ${count} with --concurrency ${concurrency}: ${lanes} lanes in one ` +
        `process, expected at most 256 (or add --separate)`,
    );
  }
  const shape = options.separate ? { count, concurrency } : { count: 1, concurrency: lanes };
  const started = await withStore(paths, (kv) =>
    spawnWorkers(kv, ctx.launch, {
      paths,
      // The store as this command resolved it (absolute), whether from --db or QUEUECTL_DB:
      // the worker runs in the data dir, where a relative name means another file.
      dbOverride: paths.dbPath === `${paths.dataDir}/queue.db` ? undefined : paths.dbPath,
      ...shape,
      queues,
      host: ctx.hostname(),
    }));
  if (options.json) ctx.out(toJson(started.map((s) => ({ id: s.id, pid: s.pid, log: s.logFile }))));
  else {
    ctx.out(started.map((s) => `${s.id} pid ${s.pid}`).join("\n") + "\n");
    const what = options.separate || lanes === 1
      ? `${started.length} worker(s)`
      : `1 worker with ${lanes} lanes`;
    ctx.err(`Started ${what}; logs in ${paths.dataDir}/workers\n`);
  }
  return 0;
}

/** Options of `worker stop`. */
export interface WorkerStopOptions {
  timeout?: string;
  force?: boolean;
  wait?: boolean;
  json?: boolean;
}

/** Stops every worker (gracefully unless forced) and reports what stopped. */
export async function workerStopAction(
  ctx: CliContext,
  paths: Paths,
  options: WorkerStopOptions,
): Promise<number> {
  const timeoutSeconds = options.timeout === undefined
    ? null
    : Math.ceil(parseDuration(options.timeout, "--timeout"));
  const wait = options.wait ?? true;
  const results = await withStore(paths, async (kv) => {
    // No silent wait: say which jobs the stop waits for, and keep saying it.
    const say = async (ids: Set<string> | null, waitedMs: number) => {
      const view = (await workersView(kv, ctx.hostname())).filter((w) => !ids || ids.has(w.id));
      const line = waitingLine(view, {
        waitedMs,
        timeoutSeconds,
        now: Date.now(),
      });
      if (line) ctx.err(line);
    };
    if (wait && !options.force) await say(null, 0);
    return await stopWorkers(kv, {
      host: ctx.hostname(),
      timeoutSeconds,
      force: options.force ?? false,
      wait,
      onWait: (pending, waitedMs) => say(new Set(pending.map((w) => w.id)), waitedMs),
    });
  });
  if (options.json) {
    ctx.out(toJson(results.map((r) => ({
      id: r.worker.id,
      pid: r.worker.pid,
      host: r.worker.host,
      outcome: r.outcome.kind,
      requeued: r.outcome.kind === "killed" ? r.outcome.requeued : [],
    }))));
    return 0;
  }
  if (results.length === 0) {
    ctx.out("No workers running\n");
    return 0;
  }
  for (const { worker, outcome } of results) {
    const who = `${worker.id} (pid ${worker.pid} on ${worker.host})`;
    if (outcome.kind === "stopped") ctx.out(`${who} stopped\n`);
    else if (outcome.kind === "killed") {
      const jobs = outcome.requeued.length ? `; requeued ${outcome.requeued.join(", ")}` : "";
      ctx.out(`${who} killed${jobs}\n`);
    } else ctx.out(`${who} asked to stop (runs on another host)\n`);
  }
  return 0;
}

/**
 * What `worker stop` waits for, in one line: the running jobs with how long each has run,
 * and what happens next; null when no worker runs a job.
 */
export function waitingLine(
  view: WorkerView[],
  input: { waitedMs: number; timeoutSeconds: number | null; now: number },
): string | null {
  const jobs = view.flatMap((w) =>
    w.jobs.map((j) =>
      `${j.id} on ${w.id} (running ${
        j.started_at ? formatDuration(input.now - Date.parse(j.started_at)) : "?"
      })`
    )
  );
  if (jobs.length === 0) return null;
  const then = input.timeoutSeconds === null
    ? "; --force kills them now and puts them back"
    : `; by force in ${formatDuration(Math.max(0, input.timeoutSeconds * 1000 - input.waitedMs))}`;
  const head = input.waitedMs === 0
    ? "Waiting for running jobs to finish"
    : `Still waiting after ${formatDuration(input.waitedMs)}`;
  return `${head}: ${jobs.join(", ")}${then}\n`;
}

/** Lists live workers with their current jobs. */
export async function workerStatusAction(
  ctx: CliContext,
  paths: Paths,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  const view = await readStore(
    ctx,
    paths,
    (kv) => workersView(kv, ctx.hostname(), { dataDir: paths.dataDir }),
  );
  if (options.json) ctx.out(toJson(view));
  else ctx.out(await describeWorkers(ctx, view, options.color));
  return 0;
}
