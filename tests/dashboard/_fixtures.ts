/**
 * Dashboard test fixtures: a temporary store with the server started in-process on a free
 * port, jobs made and run through the real state machine, and a Prometheus text parser.
 * @module
 */
import type { Attempt, Job } from "../../lib/job.ts";
import { defaultConfig } from "../../lib/config.ts";
import { newJob } from "../../lib/job_spec.ts";
import { nextSeq } from "../../lib/ids.ts";
import { resolvePaths } from "../../lib/paths.ts";
import type { Paths } from "../../lib/paths.ts";
import { claim, finish } from "../../lib/state_machine.ts";
import { jobCommitChange, jobGet, jobInsertMany } from "../../lib/store/jobs.ts";
import { openStore } from "../../lib/store/open.ts";
import { type Dashboard, dashboardServe } from "../../lib/dashboard/server.ts";
import { CLI_FLAGS, MAIN, type TempHome, tempHome } from "../_helpers/cli.ts";

/** What a dashboard test gets. */
export interface DashboardFixture {
  home: TempHome;
  paths: Paths;
  kv: Deno.Kv;
  dashboard: Dashboard;
  /** fetch() relative to the dashboard, returning status, headers and the parsed body. */
  call(
    method: string,
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: unknown; text: string }>;
}

/** Runs `fn` with a fresh store and a dashboard on 127.0.0.1:0; always cleans up. */
export async function withDashboard(
  fn: (f: DashboardFixture) => Promise<void>,
  options: { token?: string } = {},
): Promise<void> {
  const home = await tempHome();
  const paths = resolvePaths({ QUEUECTL_HOME: home.home });
  const kv = await openStore(paths);
  let dashboard: Dashboard | null = null;
  try {
    dashboard = dashboardServe({
      kv,
      paths,
      hostname: "test-host",
      port: 0,
      token: options.token ?? null,
    });
    const base = dashboard.url;
    const call: DashboardFixture["call"] = async (method, path, headers = {}) => {
      const res = await fetch(new URL(path, base), { method, headers });
      const text = await res.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      return { status: res.status, headers: res.headers, body, text };
    };
    await fn({ home, paths, kv, dashboard, call });
  } finally {
    await dashboard?.shutdown();
    kv.close();
    await home.cleanup();
  }
}

/** Inserts a pending job built by the real spec code. */
export async function addJob(
  kv: Deno.Kv,
  spec: { id: string; command: string; max_retries?: number; delay?: number },
): Promise<Job> {
  const now = new Date();
  const job = newJob(spec, {
    id: spec.id,
    now,
    seq: nextSeq(now.getTime()),
    cwd: "/tmp",
    config: defaultConfig(),
  });
  const result = await jobInsertMany(kv, [job]);
  if (result.inserted.length !== 1) throw new Error(`Could not insert ${spec.id}`);
  return job;
}

/** Claims a pending job and finishes it with an exit code, recording the attempt. */
export async function runJob(
  kv: Deno.Kv,
  id: string,
  result: { code: number; output?: string },
): Promise<Job> {
  const now = new Date();
  const entry = await jobGet(kv, id);
  if (!entry) throw new Error(`No job ${id}`);
  const claimed = claim(entry.job, {
    now,
    workerId: "w-test",
    leaseToken: "lease-1",
    leaseSeconds: 60,
  });
  if (!claimed.ok || !await jobCommitChange(kv, entry, claimed.job)) {
    throw new Error(`Could not claim ${id}`);
  }
  const held = (await jobGet(kv, id))!;
  const outcome = { kind: "exited" as const, code: result.code };
  const done = finish(held.job, {
    now,
    leaseToken: "lease-1",
    outcome,
    backoff: { base: 2, maxSeconds: 60, jitter: 0 },
  });
  if (!done.ok) throw new Error(`Could not finish ${id}: ${done.detail}`);
  const attempt: Attempt = {
    job_id: id,
    attempt: held.job.attempts,
    worker_id: "w-test",
    host: "test-host",
    started_at: now.toISOString(),
    finished_at: now.toISOString(),
    duration_ms: 12,
    outcome,
    exit_code: result.code,
    error: result.code === 0 ? null : `exit code ${result.code}`,
    output_tail: result.output ?? "",
  };
  if (!await jobCommitChange(kv, held, done.job, { attempt })) {
    throw new Error(`Could not finish ${id}`);
  }
  return done.job;
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: HELP and TYPE per family, and every sample. */
export interface Exposition {
  help: Map<string, string>;
  types: Map<string, string>;
  samples: Sample[];
}

/**
 * Parses the Prometheus text format (0.0.4) strictly enough to catch mistakes: every line
 * is a comment, HELP, TYPE or a well-formed sample; throws on anything else.
 */
export function parsePrometheus(text: string): Exposition {
  const out: Exposition = { help: new Map(), types: new Map(), samples: [] };
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
  if (!text.endsWith("\n")) throw new Error("Exposition must end with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") continue;
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (kind === "HELP") out.help.set(name, rest);
      else {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
          throw new Error(`Bad TYPE in line: ${line}`);
        }
        if (out.types.has(name)) throw new Error(`TYPE given twice for ${name}`);
        out.types.set(name, rest);
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`Malformed sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== "") {
      labelRe.lastIndex = 0;
      while (labelRe.lastIndex < m[2].length) {
        const l = labelRe.exec(m[2]);
        if (!l) throw new Error(`Malformed labels in line: ${line}`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c) => c === "n" ? "\n" : c);
      }
    }
    const raw = m[3];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`Bad value in line: ${line}`);
    out.samples.push({ name: m[1], labels, value });
  }
  return out;
}

/** The family a sample belongs to (histogram samples carry a suffix). */
export function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|count|sum)$/, "");
  return types.get(base) === "histogram" ? base : name;
}

/** The value of one sample, or throws naming what is missing. */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = e.samples.find((s) =>
    s.name === name && Object.keys(labels).length === Object.keys(s.labels).length &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  if (!found) throw new Error(`No sample ${name}${JSON.stringify(labels)}`);
  return found.value;
}

/** `deno run` of this checkout's CLI with network access, for `queuectl dashboard`. */
export function dashboardCommand(net: string): string[] {
  return [Deno.execPath(), "run", "--quiet", ...CLI_FLAGS, `--allow-net=${net}`, MAIN];
}

/** A `queuectl dashboard` process: its first stdout line (the URL) and a kill by pid. */
export interface DashboardProcess {
  pid: number;
  link: string;
  stderr(): string;
  kill(): Promise<void>;
}

/** Starts `queuectl dashboard <args>` and waits for the URL it prints first. */
export async function spawnDashboard(
  home: TempHome,
  args: string[],
  options: { net?: string; env?: Record<string, string> } = {},
): Promise<DashboardProcess> {
  const [cmd, ...pre] = dashboardCommand(options.net ?? "127.0.0.1");
  const child = new Deno.Command(cmd, {
    args: [...pre, "dashboard", ...args],
    env: { ...home.env, ...options.env },
    cwd: home.home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errText += chunk) }),
  ).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let done = false;
  const status = child.status.finally(() => done = true);
  const kill = async () => {
    if (!done) {
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await status;
    await reader.cancel().catch(() => {});
    await errDone;
  };
  let out = "";
  const deadline = setTimeout(() => kill(), 30_000);
  try {
    while (!out.includes("\n")) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      out += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  if (!out.includes("\n")) {
    await kill();
    throw new Error(`queuectl dashboard printed no URL; stderr: ${errText}`);
  }
  // Keep draining stdout so the process never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* cancelled */ }
  })();
  return { pid: child.pid, link: out.split("\n")[0], stderr: () => errText, kill };
}
