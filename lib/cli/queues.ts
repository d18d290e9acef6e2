/**
 * `queuectl queue list|set`, `pause` and `resume`: named queues and their settings.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { parseExitCodes } from "../job_spec.ts";
import { queueCountsGet } from "../store/counts.ts";
import {
  ALL_QUEUES,
  queueNamesAll,
  queueRemove,
  type QueueSettings,
  queueSettingsEntries,
  queueSettingsUpdate,
} from "../store/queues.ts";
import { renderTable } from "../output/table.ts";
import { toJson } from "../output/text.ts";
import { type CliContext, readStore, tableNote, tableOptions, withStore } from "./context.ts";
import { parseIntOption, parseQueuesOption } from "./args.ts";

/** `queue list`: each queue's counts and settings. */
export async function queueListAction(
  ctx: CliContext,
  paths: Paths,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  const { rows, allPaused } = await readStore(ctx, paths, async (kv) => {
    const names = await queueNamesAll(kv);
    const settings = await queueSettingsEntries(kv, [ALL_QUEUES, ...names]);
    const rows = [];
    for (const [i, name] of names.entries()) {
      rows.push({ name, counts: await queueCountsGet(kv, name), ...settings[i + 1].settings });
    }
    return { rows, allPaused: settings[0].settings.paused };
  });
  if (options.json) {
    ctx.out(toJson({ all_paused: allPaused, queues: rows }));
    return 0;
  }
  if (allPaused) tableNote(ctx, "All queues are paused (queuectl resume)\n");
  if (rows.length === 0) {
    tableNote(ctx, "No queues yet\n");
    return 0;
  }
  const table = rows.map((r) => [
    r.name,
    r.paused ? "paused" : "active",
    r.concurrency ?? "-",
    r.counts.pending,
    r.counts.processing,
    r.counts.completed,
    r.counts.failed,
    r.counts.dead,
    [
      r.retry_on ? `retry_on ${r.retry_on.join(",")}` : "",
      r.fail_fast_on ? `fail_fast_on ${r.fail_fast_on.join(",")}` : "",
    ].filter((x) => x).join("; "),
  ]);
  ctx.out(
    await renderTable(
      [
        "QUEUE",
        "STATUS",
        "CONCURRENCY",
        "PENDING",
        "PROCESSING",
        "COMPLETED",
        "FAILED",
        "DEAD",
        "EXIT POLICY",
      ],
      table,
      tableOptions(ctx, options.color),
    ) + "\n",
  );
  return 0;
}

/** Options of `queue set`. */
export interface QueueSetOptions {
  concurrency?: string | boolean;
  retryOn?: string | boolean;
  failFastOn?: string | boolean;
  json?: boolean;
}

/** `queue set <name>`: concurrency cap and exit-code policy. */
export async function queueSetAction(
  ctx: CliContext,
  paths: Paths,
  name: string,
  options: QueueSetOptions,
): Promise<number> {
  const [queue] = parseQueuesOption(name);
  const patch: Partial<QueueSettings> = {};
  if (options.concurrency === false) patch.concurrency = null;
  else if (typeof options.concurrency === "string") {
    patch.concurrency = parseIntOption(options.concurrency, "--concurrency", {
      min: 1,
      max: 10000,
    });
  }
  for (
    const [option, field, flag] of [
      [options.retryOn, "retry_on", "--retry-on"],
      [options.failFastOn, "fail_fast_on", "--fail-fast-on"],
    ] as const
  ) {
    if (option === false) patch[field] = null;
    else if (typeof option === "string") {
      patch[field] = parseExitCodes(
        option,
        () => new UsageError(`Invalid ${flag} "${option}": expected exit codes 1-255 such as 2,75`),
      );
    }
  }
  if (Object.keys(patch).length === 0) {
    throw new UsageError(
      "Nothing to set: expected --concurrency N, --no-concurrency, --retry-on, --fail-fast-on",
    );
  }
  const settings = await withStore(paths, (kv) => queueSettingsUpdate(kv, queue, patch));
  if (options.json) ctx.out(toJson({ queue, ...settings }));
  else {
    ctx.out(
      `${queue}: concurrency ${settings.concurrency ?? "unlimited"}${
        settings.retry_on ? `, retry_on ${settings.retry_on.join(",")}` : ""
      }${settings.fail_fast_on ? `, fail_fast_on ${settings.fail_fast_on.join(",")}` : ""}${
        settings.paused ? " (paused)" : ""
      }\n`,
    );
  }
  return 0;
}

/** `queue rm <name>`: forgets the settings and the name of a queue with no unfinished jobs. */
export async function queueRemoveAction(
  ctx: CliContext,
  paths: Paths,
  name: string,
  options: { json?: boolean },
): Promise<number> {
  const [queue] = parseQueuesOption(name);
  const result = await withStore(paths, (kv) => queueRemove(kv, queue));
  if (result.kind === "unknown") throw unknownQueue(queue);
  if (result.kind === "not_empty") {
    throw new UsageError(
      `Queue "${queue}" has ${result.unfinished} unfinished job(s): cancel them or let them finish first`,
    );
  }
  if (options.json) ctx.out(toJson({ queue, removed: true }));
  else ctx.out(`Queue "${queue}" removed\n`);
  return 0;
}

function unknownQueue(queue: string): UsageError {
  return new UsageError(
    `Unknown queue "${queue}": no job was enqueued to it and it has no settings (see queuectl queue list)`,
  );
}

/**
 * `pause [queue]` / `resume [queue]`: no new claims from the queue (or from any queue). A
 * queue nobody has used is a mistake (a typo, most likely) unless `create` says otherwise.
 */
export async function pauseAction(
  ctx: CliContext,
  paths: Paths,
  name: string | undefined,
  paused: boolean,
  options: { create?: boolean } = {},
): Promise<number> {
  const queue = name === undefined ? ALL_QUEUES : parseQueuesOption(name)[0];
  await withStore(paths, async (kv) => {
    if (queue !== ALL_QUEUES && !options.create && !(await queueNamesAll(kv)).includes(queue)) {
      const error = unknownQueue(queue);
      error.message += paused ? "; use --create to pause it before its first job" : "";
      throw error;
    }
    await queueSettingsUpdate(kv, queue, { paused });
    if (queue !== ALL_QUEUES || paused) return;
    // `resume` with no queue resumes every queue, not only the global pause.
    const names = await queueNamesAll(kv);
    for (const e of await queueSettingsEntries(kv, names)) {
      if (e.settings.paused) await queueSettingsUpdate(kv, e.name, { paused: false });
    }
  });
  const what = queue === ALL_QUEUES ? "All queues" : `Queue "${queue}"`;
  ctx.out(
    paused
      ? `${what} paused: running jobs finish, no new job starts (queuectl resume${
        name ? ` ${name}` : ""
      })\n`
      : `${what} resumed\n`,
  );
  return 0;
}
