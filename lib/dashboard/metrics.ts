/**
 * `GET /metrics`: the queue in the Prometheus text exposition format (version 0.0.4):
 * what is read from the store, and the pure rendering of it.
 * @module
 */
import { JOB_STATES } from "../job.ts";
import { type Counts, countsGet } from "../store/counts.ts";
import { jobGet, jobListIds } from "../store/jobs.ts";
import { type StatsTotals, statsTotals } from "../store/stats.ts";
import { workerListLive } from "../supervisor.ts";
import { settle } from "./api.ts";
import { scheduleTallies, scheduleViews } from "../store/schedule_views.ts";

/** The content type of the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Everything the metrics page shows, read at one time. */
export interface MetricsSnapshot {
  counts: Counts;
  totals: StatsTotals;
  workers: number;
  /** Seconds since the oldest pending job was enqueued; null when none is pending. */
  oldest_pending_age_seconds: number | null;
  /** Each schedule's lifetime counts of fired, skipped and missed ticks. */
  schedules: { name: string; paused: boolean; fires: number; skips: number; misses: number }[];
}

/** Reads the metrics from the store (after settling lapsed leases and due jobs). */
export async function metricsRead(
  kv: Deno.Kv,
  options: { host: string; now: Date },
): Promise<MetricsSnapshot> {
  await settle(kv, options.now);
  const [oldestId] = await jobListIds(kv, { state: "pending", limit: 1, reverse: false });
  const oldest = oldestId ? await jobGet(kv, oldestId) : null;
  return {
    counts: await countsGet(kv),
    totals: await statsTotals(kv),
    workers: (await workerListLive(kv, options.host)).length,
    oldest_pending_age_seconds: oldest
      ? Math.max(0, (options.now.getTime() - Date.parse(oldest.job.created_at)) / 1000)
      : null,
    schedules: (await scheduleViews(kv)).map(scheduleTallies),
  };
}

/** The metric families: name, type and help, in the order they are printed. */
export const METRIC_FAMILIES = [
  { name: "queuectl_jobs", type: "gauge", help: "Jobs in each state now." },
  {
    name: "queuectl_jobs_scheduled",
    type: "gauge",
    help: "Pending jobs whose run time has not come yet (part of the pending count).",
  },
  {
    name: "queuectl_jobs_finished_total",
    type: "counter",
    help:
      "Jobs that reached a final state (completed, dead, cancelled) since the store was created.",
  },
  {
    name: "queuectl_attempts_total",
    type: "counter",
    help: "Attempts that finished, whatever their outcome.",
  },
  {
    name: "queuectl_attempts_failed_total",
    type: "counter",
    help: "Attempts that failed: non-zero exit, signal, timeout, spawn failure or lost worker.",
  },
  {
    name: "queuectl_attempt_duration_seconds",
    type: "histogram",
    help: "Run time of finished attempts.",
  },
  { name: "queuectl_workers", type: "gauge", help: "Live workers (stale records excluded)." },
  {
    name: "queuectl_oldest_pending_job_age_seconds",
    type: "gauge",
    help: "Seconds since the oldest pending job was enqueued (0 when none is pending).",
  },
  { name: "queuectl_schedules", type: "gauge", help: "Schedules, active or paused." },
  {
    name: "queuectl_schedule_fires_total",
    type: "counter",
    help: "Jobs a schedule enqueued (its ticks and schedule run), since it was added.",
  },
  {
    name: "queuectl_schedule_skips_total",
    type: "counter",
    help: "Ticks a schedule skipped because its last run was unfinished (overlap skip).",
  },
  {
    name: "queuectl_schedule_misses_total",
    type: "counter",
    help: "Ticks passed over after downtime, beyond the schedule's catch-up limit.",
  },
] as const;

type FamilyName = typeof METRIC_FAMILIES[number]["name"];

/** Renders a snapshot in the Prometheus text format. */
export function metricsText(snapshot: MetricsSnapshot): string {
  const samples: Record<FamilyName, string[]> = {
    queuectl_jobs: JOB_STATES.map((s) => sample("queuectl_jobs", snapshot.counts[s], { state: s })),
    queuectl_jobs_scheduled: [sample("queuectl_jobs_scheduled", snapshot.counts.scheduled)],
    queuectl_jobs_finished_total: (["completed", "dead", "cancelled"] as const).map((s) =>
      sample("queuectl_jobs_finished_total", snapshot.totals[s], { state: s })
    ),
    queuectl_attempts_total: [sample("queuectl_attempts_total", snapshot.totals.attempts)],
    queuectl_attempts_failed_total: [
      sample("queuectl_attempts_failed_total", snapshot.totals.failed),
    ],
    queuectl_attempt_duration_seconds: histogram(
      "queuectl_attempt_duration_seconds",
      snapshot.totals.run_time_buckets,
    ),
    queuectl_workers: [sample("queuectl_workers", snapshot.workers)],
    queuectl_oldest_pending_job_age_seconds: [
      sample(
        "queuectl_oldest_pending_job_age_seconds",
        Math.round((snapshot.oldest_pending_age_seconds ?? 0) * 1000) / 1000,
      ),
    ],
    queuectl_schedules: (["active", "paused"] as const).map((status) =>
      sample(
        "queuectl_schedules",
        snapshot.schedules.filter((s) => s.paused === (status === "paused")).length,
        { status },
      )
    ),
    queuectl_schedule_fires_total: snapshot.schedules.map((s) =>
      sample("queuectl_schedule_fires_total", s.fires, { schedule: s.name })
    ),
    queuectl_schedule_skips_total: snapshot.schedules.map((s) =>
      sample("queuectl_schedule_skips_total", s.skips, { schedule: s.name })
    ),
    queuectl_schedule_misses_total: snapshot.schedules.map((s) =>
      sample("queuectl_schedule_misses_total", s.misses, { schedule: s.name })
    ),
  };
  return METRIC_FAMILIES.map((f) =>
    `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${samples[f.name].join("\n")}\n`
  ).join("");
}

/** Cumulative buckets (le in seconds, the last one +Inf) and the count. */
function histogram(name: string, buckets: { le_ms: number; count: number }[]): string[] {
  const lines = buckets.map((b) =>
    sample(`${name}_bucket`, b.count, {
      le: Number.isFinite(b.le_ms) ? String(b.le_ms / 1000) : "+Inf",
    })
  );
  if (buckets.length === 0 || Number.isFinite(buckets[buckets.length - 1].le_ms)) {
    lines.push(sample(`${name}_bucket`, buckets.at(-1)?.count ?? 0, { le: "+Inf" }));
  }
  lines.push(sample(`${name}_count`, buckets.at(-1)?.count ?? 0));
  return lines;
}

function sample(name: string, value: number, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${value}`;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
