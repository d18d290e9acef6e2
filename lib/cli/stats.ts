/**
 * `queuectl stats`: throughput, success rate, run and wait times, failing commands.
 * @module
 */
import type { Paths } from "../paths.ts";
import { parseDuration } from "../duration.ts";
import { JOB_STATES } from "../job.ts";
import { countsGet } from "../store/counts.ts";
import { statsRead } from "../store/stats.ts";
import { scheduleTallies, scheduleViews } from "../store/schedule_views.ts";
import { formatDuration, toJson, truncate } from "../output/text.ts";
import { type CliContext, readStore } from "./context.ts";

/** Prints statistics over the last `--since` (default 1h). */
export async function statsAction(
  ctx: CliContext,
  paths: Paths,
  options: { since?: string; json?: boolean },
): Promise<number> {
  const seconds = parseDuration(options.since ?? "1h", "--since");
  const now = new Date();
  const { report, counts, schedules } = await readStore(ctx, paths, async (kv) => ({
    report: await statsRead(kv, { since: new Date(now.getTime() - seconds * 1000), now }),
    counts: await countsGet(kv),
    // Schedules: lifetime counts, and the state of each one's latest job.
    schedules: (await scheduleViews(kv)).map((v) => ({
      ...scheduleTallies(v),
      last_job_id: v.last_job_id,
      last_job_state: v.last_job_state,
    })),
  }));
  if (options.json) {
    ctx.out(toJson({ ...report, counts, schedules }));
    return 0;
  }
  const ms = (v: number | null) => v === null ? "-" : formatDuration(v);
  const t = report.totals;
  const lines = [
    `Since ${report.since} (${formatDuration(seconds * 1000)})`,
    `  finished       ${t.completed} completed, ${t.dead} dead, ${t.cancelled} cancelled`,
    `  throughput     ${report.completed_per_minute} completed/min`,
    `  attempts       ${t.attempts} (${t.failed} failed; success rate ${
      report.success_rate === null ? "-" : `${Math.round(report.success_rate * 1000) / 10}%`
    })`,
    `  run time       p50 ${ms(report.run_time_ms.p50)}, p95 ${ms(report.run_time_ms.p95)}, max ${
      ms(report.run_time_ms.max)
    }`,
    `  queue wait     p50 ${ms(report.queue_wait_ms.p50)}, p95 ${ms(report.queue_wait_ms.p95)}`,
    `Now: ${JOB_STATES.map((s) => `${counts[s]} ${s}`).join(", ")} (${counts.scheduled} scheduled)`,
  ];
  if (report.top_failing.length > 0) {
    lines.push("Top failing commands");
    for (const f of report.top_failing) {
      lines.push(`  ${String(f.failures).padStart(5)}  ${truncate(f.command, 60)}`);
    }
  }
  if (schedules.length > 0) {
    lines.push("Schedules (since added: fires, skips, misses; latest job)");
    for (const v of schedules) {
      const last = v.last_job_id ? `${v.last_job_id} ${v.last_job_state ?? "purged"}` : "-";
      lines.push(
        `  ${v.name}${v.paused ? " (paused)" : ""}: ${v.fires} fired, ${v.skips} skipped, ` +
          `${v.misses} missed; ${last}`,
      );
    }
  }
  ctx.out(lines.join("\n") + "\n");
  return 0;
}
