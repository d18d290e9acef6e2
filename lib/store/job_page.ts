/**
 * Paging through jobs newest first, in one state or all, with a cursor that names the
 * position of the last job shown (its enqueue seq and id), so pages stay stable while
 * jobs are added or change state.
 * @module
 */
import type { Job, JobState } from "../job.ts";
import { jobGetMany } from "./jobs.ts";
import { BY_SEQ_PREFIX, byStatePrefix } from "./keys.ts";

/** Where the previous page ended: the index position of its last job. */
export interface JobPosition {
  seq: number;
  id: string;
}

/** One page of jobs, newest first, and where the next page starts (null at the end). */
export interface JobPage {
  jobs: Job[];
  next: JobPosition | null;
}

/**
 * Reads up to `limit` jobs older than `after` (or the newest when `after` is null) from the
 * index of `state` (or of every job). A job that left `state` between the index read and
 * the record read is skipped, so a page may be short; `next` is still exact.
 */
export async function jobPage(
  kv: Deno.Kv,
  options: { state?: JobState; limit: number; after: JobPosition | null },
): Promise<JobPage> {
  const prefix = options.state ? byStatePrefix(options.state) : BY_SEQ_PREFIX;
  const selector: Deno.KvListSelector = options.after
    ? { start: prefix, end: [...prefix, options.after.seq, options.after.id] }
    : { prefix };
  const found: JobPosition[] = [];
  for await (
    const entry of kv.list<string>(selector, {
      reverse: true,
      limit: options.limit + 1,
      batchSize: Math.min(options.limit + 1, 500),
    })
  ) {
    found.push({ seq: entry.key[entry.key.length - 2] as number, id: entry.value });
  }
  const shown = found.slice(0, options.limit);
  const entries = await jobGetMany(kv, shown.map((p) => p.id));
  const jobs = entries.map((e) => e.job).filter((j) => !options.state || j.state === options.state);
  const next = found.length > options.limit ? shown[shown.length - 1] : null;
  return { jobs, next };
}
