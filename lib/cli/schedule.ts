/**
 * `queuectl schedule add|list|show|rm|pause|resume|run`: thin commands over
 * lib/schedule.ts (the rules) and lib/store/schedules.ts (the store).
 * @module
 */
import { UsageError } from "../errors.ts";
import { absolutePath, type Paths } from "../paths.ts";
import { newSchedule, type Schedule, validateScheduleName } from "../schedule.ts";
import { cronNextMany, DEFAULT_TZ } from "../cron.ts";
import {
  scheduleAdd,
  scheduleRemove,
  scheduleRunNow,
  scheduleSetPaused,
} from "../store/schedules.ts";
import {
  scheduleGet,
  scheduleJobs,
  type ScheduleView,
  scheduleViews,
} from "../store/schedule_views.ts";
import { renderTable } from "../output/table.ts";
import { formatRelative, toJson, truncate } from "../output/text.ts";
import { type CliContext, readStore, tableNote, tableOptions, withStore } from "./context.ts";
import { liveWorkers, unservedLine, unservedQueues, warnIfUnserved } from "./serving.ts";
import { parseEnvOption, parseIntOption, parseQueuesOption, parseTimeoutOption } from "./args.ts";
import { wakeWorkers } from "../worker/wake_socket.ts";

/** Options of `schedule add`, as commander hands them over. */
export interface ScheduleAddOptions {
  tz?: string;
  queue?: string;
  maxRetries?: string;
  priority?: string;
  timeout?: string;
  label?: string;
  retryOn?: string;
  failFastOn?: string;
  overlap?: string;
  catchUp?: string;
  cwd?: string;
  env?: string[];
  json?: boolean;
}

/** `schedule add <name> <cron> -- <command>`: stores a new schedule; prints its next tick. */
export async function scheduleAddAction(
  ctx: CliContext,
  paths: Paths,
  args: { name: string; cron: string; command: string[] },
  options: ScheduleAddOptions,
): Promise<number> {
  const command = args.command.join(" ");
  if (command.trim() === "") {
    throw new UsageError("Missing command: expected it after the cron expression (and --)");
  }
  const job: Record<string, unknown> = { command };
  if (options.queue !== undefined) {
    const queues = parseQueuesOption(options.queue);
    if (queues.length > 1) throw new UsageError(`Invalid --queue "${options.queue}": one queue`);
    job.queue = queues[0];
  }
  if (options.maxRetries !== undefined) {
    job.max_retries = parseIntOption(options.maxRetries, "--max-retries", { min: 0, max: 1e9 });
  }
  if (options.priority !== undefined) {
    job.priority = parseIntOption(options.priority, "--priority", { min: -1e9, max: 1e9 });
  }
  if (options.timeout !== undefined) job.timeout = parseTimeoutOption(options.timeout);
  if (options.env !== undefined) job.env = parseEnvOption(options.env);
  if (options.label !== undefined) job.label = options.label;
  if (options.retryOn !== undefined) job.retry_on = options.retryOn;
  if (options.failFastOn !== undefined) job.fail_fast_on = options.failFastOn;
  const created = newSchedule({
    name: args.name,
    cron: args.cron,
    tz: options.tz,
    job,
    cwd: options.cwd === undefined ? ctx.cwd() : scheduleCwd(options.cwd, ctx.cwd()),
    overlap: options.overlap,
    catch_up: options.catchUp === undefined
      ? undefined
      : parseIntOption(options.catchUp, "--catch-up", { min: 1, max: 100 }),
  }, new Date());
  const queue = created.schedule.job.queue ?? "default";
  const { outcome, unserved } = await withStore(paths, async (kv) => ({
    outcome: await scheduleAdd(kv, created),
    // No silent wait: ticks fire and run only while a worker serves the queue.
    unserved: unservedQueues(await liveWorkers(kv), [queue]),
  }));
  if (outcome.kind === "exists") {
    throw new UsageError(
      `Schedule "${args.name}" already exists (${outcome.existing.cron}): remove it first (queuectl schedule rm ${args.name})`,
    );
  }
  if (options.json) ctx.out(toJson({ ...created.schedule, ...created.state }));
  else {
    const next = created.state.next_fire_at;
    ctx.out(`${created.schedule.name}\n`);
    tableNote(
      ctx,
      next ? `Next run ${next} (${formatRelative(next, new Date())})\n` : "It has no future run\n",
    );
  }
  if (unserved.length > 0) ctx.err(unservedLine(unserved, "its ticks wait"));
  return 0;
}

/** `schedule list`: every schedule with its next tick and its last run's state. */
export async function scheduleListAction(
  ctx: CliContext,
  paths: Paths,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  const views = await readStore(ctx, paths, (kv) => scheduleViews(kv));
  if (options.json) {
    ctx.out(toJson(views));
    return 0;
  }
  if (views.length === 0) {
    tableNote(ctx, "No schedules (add one: queuectl schedule add <name> '<cron>' -- <command>)\n");
    return 0;
  }
  const now = new Date();
  const rows = views.map((v) => [
    v.name,
    cronText(v),
    v.paused ? "paused" : "active",
    v.paused ? "-" : formatRelative(v.next_fire_at, now),
    lastRunText(v),
    truncate(v.job.command, 40),
  ]);
  ctx.out(
    await renderTable(
      ["NAME", "CRON", "STATUS", "NEXT", "LAST RUN", "COMMAND"],
      rows,
      tableOptions(ctx, options.color),
    ) + "\n",
  );
  return 0;
}

/** The directory given with --cwd, made absolute (it must exist where the workers run). */
function scheduleCwd(raw: string, cwd: string): string {
  if (raw.trim() === "" || raw.includes("\0")) {
    throw new UsageError(`Invalid --cwd "${raw}": expected a directory`);
  }
  return absolutePath(raw, cwd);
}

function cronText(s: Schedule): string {
  return s.tz === DEFAULT_TZ ? s.cron : `${s.cron} (${s.tz})`;
}

function lastRunText(v: ScheduleView): string {
  if (!v.last_job_id) return "-";
  return `${v.last_job_id} ${v.last_job_state ?? "purged"}`;
}

/** `schedule show <name>`: the schedule, its next ticks, counts and recent jobs. */
export async function scheduleShowAction(
  ctx: CliContext,
  paths: Paths,
  name: string,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  validateScheduleName(name);
  const found = await readStore(ctx, paths, async (kv) => {
    const entry = await scheduleGet(kv, name);
    return entry ? { entry, jobs: await scheduleJobs(kv, name, { limit: 10 }) } : null;
  });
  if (!found) throw notFound(name);
  const { schedule, state } = found.entry;
  const now = new Date();
  const upcoming = schedule.paused
    ? []
    : cronNextMany(schedule, { afterMs: now.getTime(), n: 5 }).map((t) =>
      new Date(t).toISOString()
    );
  if (options.json) {
    ctx.out(toJson({ ...schedule, ...state, upcoming, recent_jobs: found.jobs }));
    return 0;
  }
  const j = schedule.job;
  const fields: [string, unknown][] = [
    ["name", schedule.name],
    ["cron", schedule.cron],
    ["tz", schedule.tz],
    ["status", schedule.paused ? "paused" : "active"],
    ["command", j.command],
    ["cwd", schedule.cwd],
    ["queue", j.queue ?? "default"],
    ["max_retries", j.max_retries ?? "config max-retries"],
    ["priority", j.priority ?? 0],
    ["timeout", j.timeout === undefined ? "config job-timeout" : `${j.timeout}s`],
    ["label", j.label ?? "-"],
    ["env", j.env ? Object.keys(j.env).join(", ") : "-"],
    ["retry_on", j.retry_on?.join(",") ?? "-"],
    ["fail_fast_on", j.fail_fast_on?.join(",") ?? "-"],
    ["overlap", schedule.overlap],
    ["catch_up", schedule.catch_up],
    ["next_fire_at", state.next_fire_at ?? "-"],
    ["upcoming", upcoming.length > 0 ? upcoming.join(", ") : "-"],
    ["last_tick_at", state.last_tick_at ?? "-"],
    ["last_outcome", state.last_outcome ?? "-"],
    ["last_job_id", state.last_job_id ?? "-"],
    ["fires", state.fires],
    ["skips", state.skips],
    ["misses", state.misses],
    ["created_at", schedule.created_at],
  ];
  ctx.out(fields.map(([k, v]) => `${k.padEnd(13)} ${v}`).join("\n") + "\n");
  if (found.jobs.length > 0) {
    ctx.out("\nRecent jobs\n");
    const rows = found.jobs.map((job) => [
      job.id,
      job.state,
      formatRelative(job.updated_at, now),
      truncate(job.last_error ?? "", 40),
    ]);
    ctx.out(
      await renderTable(
        ["ID", "STATE", "UPDATED", "ERROR"],
        rows,
        tableOptions(ctx, options.color),
      ) +
        "\n",
    );
  }
  return 0;
}

/** `schedule rm <name>`: deletes the schedule; the jobs it fired stay. */
export async function scheduleRemoveAction(
  ctx: CliContext,
  paths: Paths,
  name: string,
): Promise<number> {
  validateScheduleName(name);
  const outcome = await withStore(paths, (kv) => scheduleRemove(kv, name));
  if (outcome.kind === "not_found") throw notFound(name);
  ctx.out(`${name}\n`);
  return 0;
}

/** `schedule pause|resume <name>`. */
export async function schedulePauseAction(
  ctx: CliContext,
  paths: Paths,
  name: string,
  paused: boolean,
): Promise<number> {
  validateScheduleName(name);
  const now = new Date();
  const outcome = await withStore(paths, (kv) => scheduleSetPaused(kv, name, { paused, now }));
  if (outcome.kind === "not_found") throw notFound(name);
  ctx.out(`${name}\n`);
  const next = outcome.state.next_fire_at;
  if (!paused) {
    tableNote(
      ctx,
      next ? `Next run ${next} (${formatRelative(next, now)})\n` : "It has no future run\n",
    );
  }
  return 0;
}

/** `schedule run <name>`: fires the schedule now; prints the job id. */
export async function scheduleRunAction(
  ctx: CliContext,
  paths: Paths,
  name: string,
  options: { json?: boolean },
): Promise<number> {
  validateScheduleName(name);
  const outcome = await withStore(paths, async (kv) => {
    const run = await scheduleRunNow(kv, name, { now: new Date() });
    if (run.kind === "fired") await warnIfUnserved(ctx, kv, [run.job.queue], "it waits");
    return run;
  });
  if (outcome.kind === "not_found") throw notFound(name);
  await wakeWorkers(paths.dbPath);
  ctx.out(options.json ? toJson(outcome.job) : `${outcome.job.id}\n`);
  return 0;
}

function notFound(name: string): UsageError {
  return new UsageError(`No schedule named "${name}" (see queuectl schedule list)`);
}
