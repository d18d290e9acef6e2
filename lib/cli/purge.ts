/**
 * `queuectl purge`: delete finished jobs (with their attempts and logs) older than a cutoff.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { JobState } from "../job.ts";
import type { Paths } from "../paths.ts";
import { parseDuration } from "../duration.ts";
import { purgeFinished } from "../store/purge.ts";
import { toJson } from "../output/text.ts";
import { type CliContext, withStore } from "./context.ts";

/** Options of `purge`. */
export interface PurgeOptions {
  completed?: boolean;
  dead?: boolean;
  cancelled?: boolean;
  olderThan?: string;
  json?: boolean;
}

/** Removes finished jobs in the chosen states that finished before `--older-than` ago. */
export async function purgeAction(
  ctx: CliContext,
  paths: Paths,
  options: PurgeOptions,
): Promise<number> {
  const states: JobState[] = [];
  if (options.completed) states.push("completed");
  if (options.dead) states.push("dead");
  if (options.cancelled) states.push("cancelled");
  if (states.length === 0) {
    throw new UsageError("Nothing to purge: expected --completed, --dead and/or --cancelled");
  }
  const seconds = parseDuration(options.olderThan ?? "0", "--older-than");
  const olderThan = new Date(Date.now() - seconds * 1000);
  const removed = await withStore(paths, (kv) => purgeFinished(kv, paths, { states, olderThan }));
  if (options.json) ctx.out(toJson(removed));
  else ctx.out(`Purged ${removed.length} job(s)\n`);
  return 0;
}
