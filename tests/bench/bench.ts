/**
 * `deno task bench [--quick] [--json <file>] [--compiled <binary>] [--only <ids>]`: the
 * benchmark suite of issue 6. Measures queuectl against the fork/exec floor (xargs -P2)
 * and task-spooler (tsp -S 2) in the same run and prints a markdown table: median and
 * spread, ratios to the peers, the targets and pass/fail.
 *
 * Run with `-A`: a benchmark harness is not shipped code. It spawns the CLI (which runs
 * with its own narrow flags), `sh`, `xargs`, `tsp` and `getconf`, reads /proc of its
 * children, writes temp dirs and opens KV stores in-process; listing every permission
 * would only restate "everything this developer tool does on the developer's machine".
 * @module
 */
import { killAll, removeTempDirs } from "./_harness.ts";
import { compiledTarget, denoTarget, type Target } from "./_queuectl.ts";
import { tspAvailable } from "./_peers.ts";
import { remote } from "./_remote.ts";
import { renderTable, type Row, rowsJson } from "./_report.ts";
import {
  batch,
  claim,
  type Ctx,
  makePlan,
  output,
  pickup,
  scale,
  w1,
  w2,
  w3,
  w4,
  warmUp,
} from "./_workloads.ts";

/** The command line of the bench. */
interface Args {
  quick: boolean;
  json: string | null;
  compiled: string | null;
  only: Set<string> | null;
}

const SECTIONS = [
  "w1",
  "w2",
  "w3",
  "w4",
  "batch",
  "pickup",
  "output",
  "scale",
  "claim",
  "remote",
];

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, json: null, compiled: null, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`Option ${a} needs a value`);
      return v;
    };
    if (a === "--quick") args.quick = true;
    else if (a === "--json") args.json = value();
    else if (a === "--compiled") args.compiled = value();
    else if (a === "--only") {
      args.only = new Set(value().toLowerCase().split(","));
      for (const s of args.only) {
        if (!SECTIONS.includes(s)) {
          throw new Error(`Unknown section "${s}": expected some of ${SECTIONS.join(",")}`);
        }
      }
    } else if (a === "--help" || a === "-h") {
      console.log(
        "deno task bench [--quick] [--json <file>] [--compiled <binary>] " +
          `[--only ${SECTIONS.join(",")}]`,
      );
      Deno.exit(0);
    } else throw new Error(`Unknown option "${a}"`);
  }
  return args;
}

/** What machine this is, for the top of the report. */
async function machine(): Promise<Record<string, string | number>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const nproc = (await new Deno.Command("nproc").output().catch(() => null))?.stdout;
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3);
  const mem = (await Deno.readTextFile("/proc/meminfo").catch(() => ""))
    .match(/^MemTotal:\s+(\d+)/m)?.[1];
  return {
    nproc: nproc ? Number(new TextDecoder().decode(nproc).trim()) : navigator.hardwareConcurrency,
    cpu: model,
    memory_gib: mem ? Math.round(Number(mem) / 2 ** 20 * 10) / 10 : "unknown",
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    load_at_start: load.join(" "),
  };
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  const started = performance.now();
  const targets: Target[] = [denoTarget()];
  if (args.compiled) targets.push(compiledTarget(args.compiled));
  const ctx: Ctx = {
    plan: makePlan(args.quick),
    targets,
    tsp: await tspAvailable(),
    log: (m) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${m}`),
  };
  const info = await machine();
  console.log(`# queuectl bench (${args.quick ? "quick" : "full"})\n`);
  console.log(
    `Machine: ${info.nproc} CPU(s), ${info.cpu}, ${info.memory_gib} GiB; deno ${info.deno} ` +
      `(v8 ${info.v8}); ${info.os}; load average at start ${info.load_at_start}`,
  );
  console.log(`task-spooler: ${ctx.tsp ? "installed" : "not installed (tsp column empty)"}\n`);

  const want = (s: string) => !args.only || args.only.has(s);
  const rows: Row[] = [];
  const errors: string[] = [];
  /** Runs one workload; a failure is recorded and the next workload still runs. */
  const guarded = async (name: string, fn: () => Promise<Row[]>): Promise<Row[]> => {
    try {
      return await fn();
    } catch (error) {
      const message = error instanceof Error ? error.stack ?? error.message : String(error);
      errors.push(`${name}: ${message}`);
      ctx.log(`ERROR in ${name}: ${message}`);
      await killAll();
      return [];
    }
  };
  const section = async (name: string, fn: () => Promise<Row[]>) => {
    if (want(name)) rows.push(...await guarded(name, fn));
  };

  const onSignal = () => {
    console.error("Interrupted: killing the processes the bench started");
    killAll().finally(() => {
      removeTempDirs();
      Deno.exit(130);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    await warmUp(ctx);
    await section("w1", () => w1(ctx));
    await section("w2", () => w2(ctx));
    await section("w3", () => w3(ctx));
    // The quick run measures claim cost at 100k pending on the W4 store itself.
    const claimOnW4 = args.quick && want("claim");
    await section(
      "w4",
      () => w4(ctx, claimOnW4 ? (home) => guarded("claim", () => claim(ctx, home)) : undefined),
    );
    await section("batch", () => batch(ctx));
    await section("pickup", () => pickup(ctx));
    await section("output", () => output(ctx));
    await section("scale", () => scale(ctx));
    if (!claimOnW4 || !want("w4")) await section("claim", () => claim(ctx));
    await section("remote", () => remote(ctx));
  } finally {
    await killAll();
    Deno.removeSignalListener("SIGINT", onSignal);
  }

  const seconds = (performance.now() - started) / 1000;
  const labels = targets.map((t) => t.label);
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3);
  console.log(renderTable(rows, labels));
  console.log(
    `\nRatios are queuectl ÷ peer on the row's figure (for jobs/s above 1 is better, for ms ` +
      `below 1 is better). Spread: min–max for few samples, IQR for 10 or more.\n` +
      `Took ${seconds.toFixed(0)} s; load average at end ${load.join(" ")}.`,
  );
  if (errors.length > 0) {
    console.log(`\n## Errors\n\n${errors.map((e) => `- ${e.split("\n")[0]}`).join("\n")}`);
  }
  if (args.json) {
    await Deno.writeTextFile(
      args.json,
      JSON.stringify(
        {
          mode: args.quick ? "quick" : "full",
          machine: { ...info, load_at_end: load.join(" ") },
          plan: ctx.plan,
          targets: targets.map((t) => ({ label: t.label, argv: t.argv })),
          tsp: ctx.tsp,
          seconds: Math.round(seconds),
          rows: rowsJson(rows),
          errors,
        },
        null,
        2,
      ) + "\n",
    );
    console.error(`Results written to ${args.json}`);
  }
  return errors.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
