/**
 * `queuectl logs`: an attempt's captured output, from the log file on this host or, where
 * the file is not here, from the output kept in a KV Connect store, else the tail kept with
 * the job in KV; `--follow` streams it (from the store when it runs on another host).
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Attempt, Job } from "../job.ts";
import { FINAL_STATES, runNumber } from "../job.ts";
import { validateJobId } from "../job_spec.ts";
import { attemptLogPath, type Paths } from "../paths.ts";
import { attemptList, jobGet } from "../store/jobs.ts";
import { isKvConnect } from "../store/limits.ts";
import { logChunksRead } from "../store/log_chunks.ts";
import { warnIfUnserved } from "./serving.ts";
import { openStore } from "../store/open.ts";
import { workerGet } from "../store/workers.ts";
import type { CliContext } from "./context.ts";
import { parseIntOption } from "./args.ts";

/** Options of `logs`. */
export interface LogsOptions {
  attempt?: string;
  follow?: boolean;
  stderr?: boolean;
}

const FOLLOW_POLL_MS = 100;

/** Prints (or streams) the output of one attempt of a job. */
export async function logsAction(
  ctx: CliContext,
  paths: Paths,
  id: string,
  options: LogsOptions,
): Promise<number> {
  validateJobId(id);
  const wanted = options.attempt === undefined
    ? null
    : parseIntOption(options.attempt, "--attempt", { min: 1 });
  const stream = options.stderr ? "err" : "out";
  const kv = await openStore(paths);
  try {
    let entry = await jobGet(kv, id);
    if (!entry) throw new UsageError(`No job with id "${id}"`);
    if (!options.follow) {
      const runs = runNumber(entry.job);
      const attempt = wanted ?? runs;
      if (attempt === 0) throw new UsageError(`Job "${id}" has not run yet: no logs`);
      if (attempt > runs) {
        throw new UsageError(`Job "${id}" has no run ${attempt}: it has run ${runs} time(s)`);
      }
      await printAttempt(ctx, kv, paths, entry.job, attempt, stream);
      return 0;
    }
    // Follow: wait for the attempt to start, stream its file while it runs, end with it.
    if (entry.job.state === "pending" || entry.job.state === "failed") {
      await warnIfUnserved(ctx, kv, [entry.job.queue], "the job waits");
    }
    while (
      !FINAL_STATES.includes(entry.job.state) &&
      entry.job.state !== "processing" && (wanted === null || runNumber(entry.job) < wanted)
    ) {
      await delay(FOLLOW_POLL_MS);
      entry = await jobGet(kv, id);
      if (!entry) return 1;
    }
    const attempt = wanted ?? runNumber(entry.job);
    if (attempt === 0) return 0;
    const path = attemptLogPath(paths.logDir, id, attempt, stream);
    if (await runsElsewhere(ctx, kv, entry.job)) {
      await followChunks(ctx, kv, { jobId: id, attempt, stream });
      return 0;
    }
    let offset = 0;
    while (true) {
      offset = await copyFrom(ctx, path, offset);
      const now = await jobGet(kv, id);
      const running = now && now.job.state === "processing" && runNumber(now.job) === attempt;
      if (!running) {
        await copyFrom(ctx, path, offset);
        if (offset === 0 && !await exists(path)) {
          await printAttempt(ctx, kv, paths, now?.job ?? entry.job, attempt, stream);
        }
        return 0;
      }
      await delay(FOLLOW_POLL_MS);
    }
  } finally {
    kv.close();
  }
}

async function printAttempt(
  ctx: CliContext,
  kv: Deno.Kv,
  paths: Paths,
  job: Job,
  attempt: number,
  stream: "out" | "err",
): Promise<void> {
  const path = attemptLogPath(paths.logDir, job.id, attempt, stream);
  try {
    const file = await Deno.open(path, { read: true });
    for await (const chunk of file.readable) ctx.outBytes(chunk);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (isKvConnect(kv)) {
    const chunks = await logChunksRead(kv, { jobId: job.id, attempt, stream, afterSeq: -1 });
    for (const chunk of chunks) ctx.outBytes(chunk.bytes);
    if (chunks.length > 0) return;
  }
  const record: Attempt | undefined = (await attemptList(kv, job.id)).find((a) =>
    a.attempt === attempt
  );
  // No file here: either the attempt printed nothing, or it ran on another host.
  if (record && record.host && record.host !== ctx.hostname() && record.output_tail) {
    ctx.err(`(log file is on ${record.host}; showing the last 16 KiB kept with the job)\n`);
    ctx.out(record.output_tail);
  }
}

/**
 * Whether a running job's output is followed from the store: the store is KV Connect and
 * the job's worker runs on another host (its log file is there).
 */
async function runsElsewhere(ctx: CliContext, kv: Deno.Kv, job: Job): Promise<boolean> {
  if (!isKvConnect(kv) || job.state !== "processing" || job.worker_id === null) return false;
  const worker = await workerGet(kv, job.worker_id);
  return worker !== null && worker.host !== ctx.hostname();
}

/** Streams an attempt's output from the chunks kept in the store until the attempt ends. */
async function followChunks(
  ctx: CliContext,
  kv: Deno.Kv,
  at: { jobId: string; attempt: number; stream: "out" | "err" },
): Promise<void> {
  let afterSeq = -1;
  const copy = async () => {
    for (const chunk of await logChunksRead(kv, { ...at, afterSeq })) {
      ctx.outBytes(chunk.bytes);
      afterSeq = chunk.seq;
    }
  };
  while (true) {
    await copy();
    const now = await jobGet(kv, at.jobId);
    if (!now || now.job.state !== "processing" || runNumber(now.job) !== at.attempt) break;
    await delay(FOLLOW_POLL_MS);
  }
  await copy(); // the sink's last chunks land before the finishing commit
}

async function copyFrom(ctx: CliContext, path: string, offset: number): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return offset;
  }
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await file.read(buf);
      if (n === null || n === 0) break;
      ctx.outBytes(buf.slice(0, n));
      offset += n;
    }
  } finally {
    file.close();
  }
  return offset;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
