/**
 * Runs one attempt of a job: `sh -c` in its own process group, output captured to capped
 * log files, a timeout that kills the whole group, and an outcome as a named value.
 * @module
 */
import type { AttemptOutcome } from "./job.ts";
import { CappedLog, KV_TAIL_BYTES, TailBuffer } from "./capped_log.ts";
import { type ShellProcess, spawnShell } from "./shell_process.ts";

/** Seconds between SIGTERM and SIGKILL when a job's process group is stopped. */
export const KILL_GRACE_SECONDS = 2;

/** How long output is still read after the job's shell exited before its group is killed. */
const LINGER_MS = 50;
/**
 * How long output is still read after the group was killed. A process that left the group
 * (`setsid`) may hold the pipes for ever: then reading stops and the attempt ends anyway.
 */
const DRAIN_AFTER_KILL_MS = 2000;

/** Why a running attempt is being stopped from outside. */
export type StopReason = "cancelled" | "stopped";

/** What one attempt needs. */
export interface RunOptions {
  command: string;
  cwd: string;
  /** Seconds before the attempt is killed; null for no limit. */
  timeoutSeconds: number | null;
  stdoutPath: string;
  stderrPath: string;
  maxLogBytes: number;
  /** Variables added to the job's environment (it inherits the worker's otherwise). */
  env?: Record<string, string>;
  /** Called once the process has started, with its pid (also its process group id). */
  onSpawn?: (pid: number) => void;
  /** Aborting kills the process group; the reason (a StopReason) names the outcome. */
  signal?: AbortSignal;
  /** Also given every chunk of output as it comes (copy it: the buffer is reused). */
  onOutput?: (stream: "out" | "err", bytes: Uint8Array) => void;
}

/** What one attempt produced. */
export interface RunResult {
  outcome: AttemptOutcome;
  durationMs: number;
  /** The last bytes of stdout and stderr as they came, decoded leniently. */
  tail: string;
  /** A problem writing the log files, if any (the job's outcome stands). */
  logError: string | null;
}

/** Runs the command once and reports how it ended. */
export async function runAttempt(options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  let child: ShellProcess;
  try {
    // Its own process group, so the whole job can be signalled at once.
    child = spawnShell(options.command, { cwd: options.cwd, env: options.env });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      outcome: { kind: "spawn_failed", message },
      durationMs: performance.now() - started,
      tail: "",
      logError: null,
    };
  }
  const pgid = child.pid;
  options.onSpawn?.(pgid);
  const tail = new TailBuffer(KV_TAIL_BYTES);
  const half = Math.max(512, Math.floor(options.maxLogBytes / 2));
  const outLog = new CappedLog(options.stdoutPath, half);
  const errLog = new CappedLog(options.stderrPath, half);
  const onOutput = options.onOutput;
  const into = (log: CappedLog, stream: "out" | "err") => async (bytes: Uint8Array) => {
    tail.push(bytes);
    onOutput?.(stream, bytes);
    await log.write(bytes);
  };
  const reading = child.output([into(outLog, "out"), into(errLog, "err")]);
  const pumps = reading.done;

  let stopReason: StopReason | "timeout" | null = null;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stopGroup = (reason: StopReason | "timeout") => {
    if (stopReason) return;
    stopReason = reason;
    void child.signalGroup("SIGTERM");
    killTimer = setTimeout(() => void child.signalGroup("SIGKILL"), KILL_GRACE_SECONDS * 1000);
  };
  const timeoutTimer = options.timeoutSeconds
    ? setTimeout(() => stopGroup("timeout"), options.timeoutSeconds * 1000)
    : undefined;
  const onAbort = () => stopGroup(options.signal?.reason === "cancelled" ? "cancelled" : "stopped");
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort);

  const status = await child.status;
  clearTimeout(timeoutTimer);
  // Children left in the group may hold the pipes open: give them a moment, then kill them.
  // A stopped attempt's group is killed in any case, so nothing of it is left behind.
  if (!await settlesWithin(pumps, LINGER_MS) || stopReason) {
    await child.signalGroup("SIGKILL");
    if (!await settlesWithin(pumps, DRAIN_AFTER_KILL_MS)) await reading.cancel();
  }
  clearTimeout(killTimer);
  options.signal?.removeEventListener("abort", onAbort);
  await Promise.all([outLog.close(), errLog.close()]);

  let outcome: AttemptOutcome;
  if (stopReason === "timeout") outcome = { kind: "timeout", seconds: options.timeoutSeconds! };
  else if (stopReason) outcome = { kind: stopReason };
  else if (status.signal) outcome = { kind: "signaled", signal: status.signal };
  else outcome = { kind: "exited", code: status.code };
  const logError = outLog.error ?? errLog.error;
  return {
    outcome,
    durationMs: performance.now() - started,
    tail: new TextDecoder("utf-8", { fatal: false }).decode(tail.bytes()),
    logError: logError ? `log write failed: ${logError.message}` : null,
  };
}

/** Resolves true if `promise` settles within `ms`, else false (it keeps running). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(resolve, ms, false));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
