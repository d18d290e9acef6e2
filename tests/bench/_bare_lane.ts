/**
 * The ceiling of W2: one worker lane stripped to the work every job needs, run as its own
 * process (`deno run --unstable-kv -A _bare_lane.ts <QUEUECTL_HOME> group|plain|ffi`) until the
 * store has no ready job. Per job it does what a worker cannot skip, with queuectl's own
 * store functions: spawn the job's shell (`setsid --wait sh -c`, plain `sh -c`, or posix_spawn
 * with its own session through FFI: `ffi`) with both
 * pipes read to the end, read the next job's candidates while it runs, and one commit that
 * records the finish (record, indexes, counters, attempt, statistics) and claims the next.
 * Everything else a worker does is left out: leases renewed, timeouts, log files, cancel
 * and stop requests, dependents, the rescuer, events. Two of these on one store measure
 * what this machine allows any worker built on Deno KV and one shell per job.
 * @module
 */
import type { Attempt, AttemptOutcome } from "../../lib/job.ts";
import { runNumber } from "../../lib/job.ts";
import { backoffSettings, defaultConfig } from "../../lib/config.ts";
import { resolvePaths } from "../../lib/paths.ts";
import { finish } from "../../lib/state_machine.ts";
import { shellArgv } from "../../lib/shell_process.ts";
import { libcOpen } from "../../lib/libc.ts";
import { posixSpawnShell } from "../../lib/spawn_posix.ts";
import { openStore } from "../../lib/store/open.ts";
import { addChange, CounterSums, type JobEntry, jobGet } from "../../lib/store/jobs.ts";
import {
  addLaneStats,
  laneStatsNew,
  laneStatsRefresh,
  type StatsGather,
} from "../../lib/store/stats.ts";
import {
  addClaim,
  type ClaimCandidates,
  claimCandidates,
  type ClaimOptions,
  jobClaimNext,
} from "../../lib/store/claim.ts";

const [home, mode] = Deno.args;
if (!home || (mode !== "group" && mode !== "plain" && mode !== "ffi")) {
  console.error("usage: _bare_lane.ts <QUEUECTL_HOME> group|plain|ffi");
  Deno.exit(2);
}
const kv = await openStore(resolvePaths({ QUEUECTL_HOME: home }), { waitForLock: true });
const config = defaultConfig();
const workerId = `bare-${Deno.pid}`;
const cache = { current: null, maxAgeMs: 500 };
const claimOptions = (lane: number): ClaimOptions => ({
  workerId,
  leaseSeconds: config["lease-seconds"],
  now: new Date(),
  cache,
  spread: lane,
});

/** libc, for the `ffi` mode's posix_spawn. */
const libc = mode === "ffi" ? libcOpen() : null;
if (libc && libc.kind !== "open") throw new Error(`No posix_spawn here: ${libc.reason}`);

/** Runs the job's command in its shell; both pipes are read to the end. */
async function runJob(command: string, cwd: string): Promise<AttemptOutcome> {
  if (libc?.kind === "open") {
    const shell = posixSpawnShell(libc.libc, command, { cwd });
    const drop = () => Promise.resolve();
    const [status] = await Promise.all([shell.status, shell.output([drop, drop]).done]);
    return status.signal
      ? { kind: "signaled", signal: status.signal }
      : { kind: "exited", code: status.code };
  }
  const argv = shellArgv(command, { setsid: mode === "group" });
  const child = new Deno.Command(argv.cmd, {
    args: argv.args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await Promise.all([
    new Response(child.stdout).arrayBuffer(),
    new Response(child.stderr).arrayBuffer(),
  ]);
  const status = await child.status;
  return status.signal
    ? { kind: "signaled", signal: status.signal }
    : { kind: "exited", code: status.code };
}

/** The dependents marker as absent: bench jobs have no dependents, so none is read. */
const NO_DEPENDENTS = { key: ["none"], value: null, versionstamp: null };

let done = 0;
let current: JobEntry | null = null;
const lane = Deno.pid % 4;
let stats = laneStatsNew(workerId, 0);
while (true) {
  if (!current) {
    const claimed = await jobClaimNext(kv, claimOptions(lane));
    if (claimed.kind === "empty") break;
    if (claimed.kind === "contended") continue;
    current = claimed.entry;
  }
  const job = current.job;
  const started = performance.now();
  const running = runJob(job.command, job.cwd);
  const next: Promise<ClaimCandidates | null> = claimCandidates(kv, claimOptions(lane), job.queue);
  const outcome = await running;
  const now = new Date();
  const finished = finish(job, {
    now,
    leaseToken: job.lease_token!,
    outcome,
    backoff: backoffSettings(config),
    random: Math.random(),
  });
  if (!finished.ok) throw new Error(`Cannot finish ${job.id}: ${finished.detail}`);
  const attempt: Attempt = {
    job_id: job.id,
    attempt: runNumber(job),
    worker_id: workerId,
    host: "bench",
    started_at: job.started_at!,
    finished_at: now.toISOString(),
    duration_ms: Math.round(performance.now() - started),
    outcome,
    exit_code: outcome.kind === "exited" ? outcome.code : null,
    error: null,
    output_tail: "",
  };
  const op = kv.atomic();
  // The worker's slim commit: counters summed once, statistics in one lane record.
  const gather = { sums: new CounterSums(), stats: { deltas: [] } as StatsGather };
  await addChange(kv, op, current, finished.job, {
    attempt,
    dependents: NO_DEPENDENTS,
    ...gather,
  });
  const candidates = await next;
  let claimedNext = null;
  for (const entry of candidates?.entries ?? []) {
    if (entry.job.id === job.id) continue;
    claimedNext = await addClaim(kv, op, candidates!, entry, { ...claimOptions(lane), gather });
    if (claimedNext) break;
  }
  gather.sums.flush(op);
  const written = addLaneStats(op, stats, gather.stats.deltas, now.getTime());
  const committed = await op.commit();
  if (committed.ok) {
    stats = { ...written, versionstamp: committed.versionstamp };
    done++;
    current = claimedNext ? { job: claimedNext, versionstamp: committed.versionstamp } : null;
    continue;
  }
  // The next job was taken by the other lane: record this finish alone.
  stats = await laneStatsRefresh(kv, stats);
  const fresh = await jobGet(kv, job.id);
  if (!fresh) throw new Error(`Job ${job.id} vanished`);
  const alone = kv.atomic();
  await addChange(kv, alone, fresh, finished.job, { attempt, dependents: NO_DEPENDENTS });
  if (!(await alone.commit()).ok) throw new Error(`Could not record ${job.id}`);
  done++;
  current = null;
}
kv.close();
console.log(done);
