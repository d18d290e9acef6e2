/**
 * `queuectl status`, `list` and `show`: read commands over counters and indexes.
 * @module
 */
import { UsageError } from "../errors.ts";
import { type Job, JOB_STATES, runNumber } from "../job.ts";
import { type Paths, remoteStore, storeLabel } from "../paths.ts";
import { validateJobId } from "../job_spec.ts";
import { attemptList, jobGet, jobList, jobScan } from "../store/jobs.ts";
import { type Counts, countsGet } from "../store/counts.ts";
import { rescue } from "../store/rescue.ts";
import { storeFaultOf } from "../store/fault.ts";
import { storeIdGet } from "../store/identity.ts";
import { outageSpare } from "../worker/outage.ts";
import { statsRead } from "../store/stats.ts";
import { ALL_QUEUES, queueNamesAll, queueSettingsEntries } from "../store/queues.ts";
import { scheduleCounts } from "../store/schedule_views.ts";
import { workersView, type WorkerView } from "../supervisor.ts";
import { renderTable } from "../output/table.ts";
import { formatDuration, formatRelative, toJson, truncate } from "../output/text.ts";
import {
  checkTemplate,
  defaultColumns,
  FIELD_NAMES,
  fieldText,
  parseColumns,
  renderTemplate,
} from "../output/job_columns.ts";
import { type CliContext, readStore, tableNote, tableOptions } from "./context.ts";
import { parseIntOption, parseStateOption } from "./args.ts";

/** The workers as a table, or a line saying there are none. */
export async function describeWorkers(
  ctx: CliContext,
  view: WorkerView[],
  color?: boolean,
): Promise<string> {
  if (view.length === 0) return "No workers running\n";
  const now = new Date();
  const rows = view.map((w) => {
    const jobs = w.jobs.length === 0
      ? "idle"
      : w.jobs.map((j) =>
        `${j.id} (${j.started_at ? formatDuration(now.getTime() - Date.parse(j.started_at)) : "?"})`
      ).join(", ");
    const outage = w.store_unavailable_since
      ? `store unavailable since ${w.store_unavailable_since} (${
        formatDuration(now.getTime() - Date.parse(w.store_unavailable_since))
      }); `
      : "";
    const started = ctx.stdoutIsTty() ? formatRelative(w.started_at, now) : w.started_at;
    return [w.id, w.pid, w.host, started, outage + jobs];
  });
  return await renderTable(
    ["WORKER", "PID", "HOST", "STARTED", "RUNNING"],
    rows,
    tableOptions(ctx, color),
  ) + "\n";
}

/** Which store a command reads: a file, or a KV Connect URL without credentials. */
function storeOf(paths: Paths): { kind: "file" | "kv_connect"; location: string } {
  return {
    kind: remoteStore(paths.dbPath) ? "kv_connect" : "file",
    location: storeLabel(paths.dbPath),
  };
}

/**
 * Returns lapsed leases and due jobs to where they belong, so counts shown are true; jobs
 * of workers on this host waiting out a store outage are left to them. A store that cannot
 * be written now (read-only, full, unreachable) is shown as it is.
 */
async function settle(kv: Deno.Kv, paths: Paths): Promise<void> {
  try {
    await rescue(kv, { now: new Date(), spare: outageSpare(paths.dataDir) });
  } catch (error) {
    if (storeFaultOf(error).kind !== "unavailable") throw error;
  }
}

/** `status`: counts per state and the live workers; `--watch` redraws every second on a TTY. */
export async function statusAction(
  ctx: CliContext,
  paths: Paths,
  options: { json?: boolean; color?: boolean; watch?: boolean },
): Promise<number> {
  const read = () =>
    readStore(ctx, paths, async (kv) => {
      await settle(kv, paths);
      const now = new Date();
      const recent = await statsRead(kv, { since: new Date(now.getTime() - 5 * 60_000), now });
      const names = await queueNamesAll(kv);
      const settings = await queueSettingsEntries(kv, [ALL_QUEUES, ...names]);
      return {
        counts: await countsGet(kv),
        workers: await workersView(kv, ctx.hostname(), { dataDir: paths.dataDir }),
        throughput: recent.completed_per_minute,
        paused: settings.filter((e) => e.settings.paused).map((e) => e.name),
        schedules: await scheduleCounts(kv),
        storeId: (await storeIdGet(kv))?.id ?? null,
      };
    }, { note: true });
  if (options.json) {
    const { counts, workers, paused, schedules, storeId } = await read();
    const store = storeId ? { ...storeOf(paths), id: storeId } : storeOf(paths);
    ctx.out(toJson({ store, counts, workers, paused_queues: paused, schedules }));
    return 0;
  }
  const render = async () => {
    const { counts, workers, throughput, paused, schedules } = await read();
    const store = storeOf(paths);
    let text = `Store: ${store.location}${store.kind === "kv_connect" ? " (KV Connect)" : ""}\n\n`;
    text += describeCounts(counts);
    if (paused.includes(ALL_QUEUES)) text += "\nAll queues are paused (queuectl resume)\n";
    const some = paused.filter((q) => q !== ALL_QUEUES);
    if (some.length > 0) text += `\nPaused queues: ${some.join(", ")}\n`;
    text += `\nThroughput: ${throughput} jobs/min (last 5 minutes)\n`;
    if (schedules.active + schedules.paused > 0) {
      text += `\nSchedules: ${schedules.active} active` +
        (schedules.paused > 0 ? `, ${schedules.paused} paused` : "") +
        " (queuectl schedule list)\n";
    }
    text += `\nWorkers: ${workers.length}\n`;
    if (workers.length > 0) text += await describeWorkers(ctx, workers, options.color);
    return text;
  };
  if (!options.watch || !ctx.stdoutIsTty()) {
    ctx.out(await render());
    return 0;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    while (!stop.signal.aborted) {
      const text = await render();
      ctx.out(`\x1b[H\x1b[2J${new Date().toISOString()}  (Ctrl-C to quit)\n\n${text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        stop.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return 0;
}

function describeCounts(counts: Counts): string {
  const width = Math.max(...JOB_STATES.map((s) => String(counts[s]).length));
  const lines = JOB_STATES.map((s) => {
    const notes = s === "pending"
      ? [
        counts.scheduled > 0 ? `${counts.scheduled} scheduled` : "",
        counts.blocked > 0 ? `${counts.blocked} waiting for dependencies` : "",
      ]
      : s === "dead" && counts.crashed > 0
      ? [`${counts.crashed} crashed`]
      : [];
    const shown = notes.filter((n) => n);
    const extra = shown.length > 0 ? ` (${shown.join(", ")})` : "";
    const label = s === "dead" ? "dead (DLQ)" : s;
    return `  ${label.padEnd(11)} ${String(counts[s]).padStart(width)}${extra}`;
  });
  return `Jobs\n${lines.join("\n")}\n`;
}

/** Options of `list`. */
export interface ListOptions {
  state?: string;
  limit?: string;
  sort?: string;
  priority?: string;
  command?: string;
  label?: string;
  schedule?: string;
  format?: string;
  columns?: string;
  json?: boolean;
  color?: boolean;
}

const SORTS = ["created", "updated", "priority"] as const;
type Sort = typeof SORTS[number];

/** `list`: jobs newest first, optionally in one state. */
export async function listAction(
  ctx: CliContext,
  paths: Paths,
  options: ListOptions,
): Promise<number> {
  const state = options.state ? parseStateOption(options.state) : undefined;
  if (options.format !== undefined && options.columns !== undefined) {
    throw new UsageError("Give --format or --columns, not both");
  }
  if (options.format !== undefined) checkTemplate(options.format, FIELD_NAMES);
  const columns = options.columns === undefined
    ? undefined
    : parseColumns(options.columns, FIELD_NAMES);
  const limit = parseIntOption(options.limit ?? "50", "--limit", { min: 1, max: 1_000_000 });
  const sort = (options.sort ?? "created") as Sort;
  if (!SORTS.includes(sort)) {
    throw new UsageError(`Unknown sort "${options.sort}": expected one of ${SORTS.join(", ")}`);
  }
  const priority = options.priority === undefined
    ? undefined
    : parseIntOption(options.priority, "--priority", { min: -1e9, max: 1e9 });
  const needle = options.command;
  const label = options.label;
  const schedule = options.schedule;
  const filtered = priority !== undefined || needle !== undefined || label !== undefined ||
    schedule !== undefined ||
    sort !== "created";
  const { jobs, total } = await readStore(ctx, paths, async (kv) => {
    await settle(kv, paths);
    let jobs: Job[];
    if (!filtered) {
      jobs = await jobList(kv, { state, limit });
    } else {
      // Filters and other sorts read the chosen state's index (or every job) newest first.
      jobs = await jobScan(kv, {
        state,
        limit: sort === "created" ? limit : Infinity,
        keep: (j) =>
          (priority === undefined || j.priority === priority) &&
          (needle === undefined || j.command.includes(needle)) &&
          (label === undefined || j.label === label) &&
          (schedule === undefined || j.schedule === schedule),
      });
      if (sort === "updated") jobs.sort((a, b) => b.updated_at.localeCompare(a.updated_at));
      if (sort === "priority") jobs.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      jobs = jobs.slice(0, limit);
    }
    const counts = await countsGet(kv);
    const total = filtered
      ? jobs.length
      : state
      ? counts[state]
      : JOB_STATES.reduce((n, s) => n + counts[s], 0);
    return { jobs, total };
  });
  if (options.json) {
    ctx.out(toJson(jobs));
    return 0;
  }
  if (options.format !== undefined) {
    const style = { terminal: false, now: new Date() };
    ctx.out(jobs.map((j) => renderTemplate(options.format!, j, style) + "\n").join(""));
  } else if (jobs.length === 0) tableNote(ctx, "No jobs\n");
  else ctx.out(await jobsTable(ctx, jobs, options.color, columns));
  if (total > jobs.length) {
    ctx.err(`Showing ${jobs.length} of ${total} jobs (newest first); use --limit to see more\n`);
  }
  return 0;
}

/**
 * Jobs as a table (at least one job). Piped, the columns are always the same, in the same
 * order, with whole cells and ISO 8601 times; on a terminal LABEL and SCHEDULE show only when
 * a job has one. `columns` picks other columns (`--columns`).
 */
export async function jobsTable(
  ctx: CliContext,
  jobs: Job[],
  color?: boolean,
  columns?: string[],
): Promise<string> {
  const style = { terminal: ctx.stdoutIsTty(), now: new Date() };
  const names = columns ?? defaultColumns(jobs, style.terminal);
  const rows = jobs.map((j) => names.map((name) => fieldText(j, name, style)));
  const head = names.map((n) => n.toUpperCase());
  return await renderTable(head, rows, tableOptions(ctx, color)) + "\n";
}

/** `show`: one job with every attempt. */
export async function showAction(
  ctx: CliContext,
  paths: Paths,
  id: string,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  validateJobId(id);
  const found = await readStore(ctx, paths, async (kv) => {
    const entry = await jobGet(kv, id);
    return entry ? { job: entry.job, attempts: await attemptList(kv, id) } : null;
  });
  if (!found) throw new UsageError(`No job with id "${id}"`);
  const { job, attempts } = found;
  if (options.json) {
    ctx.out(toJson({ ...job, history: attempts }));
    return 0;
  }
  const fields: [string, unknown][] = [
    ["id", job.id],
    ["command", job.command],
    ["state", job.state],
    [
      "attempts",
      `${job.attempts} of at most ${job.max_retries + 1} (max_retries ${job.max_retries})${
        runNumber(job) === job.attempts ? "" : `; ${runNumber(job)} runs in all`
      }`,
    ],
    ["queue", job.queue],
    ["label", job.label ?? "-"],
    ...(job.schedule ? [["schedule", job.schedule] as [string, unknown]] : []),
    [
      "after",
      job.after?.length ? `${job.after.join(", ")}${job.after_any ? " (any outcome)" : ""}` : "-",
    ],
    ["waiting_on", job.waiting_on?.length ? job.waiting_on.join(", ") : "-"],
    ["unique_key", job.unique_key ?? "-"],
    ["retry_on", job.retry_on?.join(",") ?? "all failures"],
    ["fail_fast_on", job.fail_fast_on?.join(",") ?? "-"],
    ["priority", job.priority],
    ["cwd", job.cwd],
    ["timeout", job.timeout === null ? "none" : `${job.timeout}s`],
    ["created_at", job.created_at],
    ["updated_at", job.updated_at],
    ["next_run_at", job.next_run_at ?? "-"],
    ["worker", job.worker_id ?? "-"],
    ["lease_expires_at", job.lease_expires_at ?? "-"],
    ["exit_code", job.exit_code ?? "-"],
    ["last_error", job.last_error ?? "-"],
    ["dead_reason", job.dead_reason ?? "-"],
  ];
  ctx.out(fields.map(([k, v]) => `${k.padEnd(17)} ${v}`).join("\n") + "\n");
  if (attempts.length > 0) {
    ctx.out("\nAttempts\n");
    const rows = attempts.map((a) => [
      a.attempt,
      a.started_at,
      formatDuration(a.duration_ms),
      a.exit_code ?? "-",
      a.outcome.kind,
      truncate(a.error ?? "", 50),
    ]);
    ctx.out(
      await renderTable(
        ["#", "STARTED", "TOOK", "EXIT", "OUTCOME", "ERROR"],
        rows,
        tableOptions(ctx, options.color),
      ) + "\n",
    );
    const last = attempts[attempts.length - 1];
    if (last.output_tail) {
      ctx.out(`\nOutput of attempt ${last.attempt} (tail)\n${last.output_tail}\n`);
    }
  }
  return 0;
}
