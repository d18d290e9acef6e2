/**
 * `deno task mutants`: plants each bug of mutations.ts, one at a time, in a scratch copy of
 * the repository, runs the test files that must catch it, and prints caught / survived /
 * stale per bug and a summary. Exits 0 only when every bug was caught.
 *
 *   deno task mutants              every mutation
 *   deno task mutants backoff cap  only those whose name contains "backoff" or "cap"
 *   deno task mutants --list       the list, without running anything
 *   deno task mutants --no-baseline  skip the check that the tests pass unmutated
 * @module
 */
import { type Mutation, MUTATIONS } from "./mutations.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** Left out of the scratch copy. */
const NOT_COPIED = new Set([".git", "dist", "node_modules"]);
/** One mutation's test run may take this long; then it is killed and counted as caught. */
const RUN_TIMEOUT_MS = 600_000;

/** How one mutation ended. */
type Verdict =
  | { kind: "caught"; by: string; ms: number }
  | { kind: "survived"; ms: number }
  | { kind: "stale"; why: string };

/**
 * The flags of the file pass's test task in deno.json (what `deno task test:file` passes),
 * less `--parallel`: each mutant runs a few test files, and their output is read whole.
 */
async function testFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task = config.tasks["test:file"] as string;
  const words = task.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "test") {
    throw new Error(`deno.json's test:file task is not "deno test …": ${task}`);
  }
  return words.slice(2).filter((w) => w.startsWith("-") && w !== "--parallel");
}

/** Copies the repository (without .git) into a new temp dir. */
async function scratchCopy(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-mutants-" });
  const entries = [];
  for await (const e of Deno.readDir(ROOT)) if (!NOT_COPIED.has(e.name)) entries.push(e.name);
  const out = await new Deno.Command("cp", {
    args: ["-a", ...entries.map((e) => `${ROOT}${e}`), dir],
  }).output();
  if (!out.success) throw new Error(`cp failed: ${new TextDecoder().decode(out.stderr)}`);
  return dir;
}

/** Runs `deno test` on `files` in `dir`; the exit code, what failed, and how long it took. */
async function runTests(
  dir: string,
  flags: string[],
  files: string[],
  filter?: string,
): Promise<{ code: number; failed: string[]; output: string; ms: number }> {
  const began = Date.now();
  const child = new Deno.Command(Deno.execPath(), {
    // Unchecked: a mutant that breaks a type must be caught by a test, not by tsc.
    args: ["test", ...flags, "--no-check", ...(filter ? ["--filter", filter] : []), ...files],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true, // its own process group, so a timed-out run is killed whole
  }).spawn();
  const timer = setTimeout(() => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, RUN_TIMEOUT_MS);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  const output = dec.decode(out.stdout) + dec.decode(out.stderr);
  const failed = [...output.matchAll(/^(.*) \.\.\. FAILED/gm)].map((m) => m[1]);
  if (out.signal === "SIGKILL") failed.push(`(killed after ${RUN_TIMEOUT_MS / 1000} s)`);
  return { code: out.code, failed, output, ms: Date.now() - began };
}

/** Whether the mutated module still loads (a syntax slip would fail every test). */
async function loads(dir: string, file: string): Promise<string | null> {
  const url = new URL(file, `file://${dir}/`).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", "--quiet", "--ext=ts", `await import(${JSON.stringify(url)});`],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  return out.success ? null : new TextDecoder().decode(out.stderr).trim().split("\n")[0];
}

/** Plants one mutation in `dir`, runs its tests and puts the file back. */
async function tryMutation(dir: string, flags: string[], m: Mutation): Promise<Verdict> {
  const path = `${dir}/${m.file}`;
  let original: string;
  try {
    original = await Deno.readTextFile(path);
  } catch {
    return { kind: "stale", why: `${m.file} does not exist` };
  }
  const found = original.split(m.search).length - 1;
  if (found !== 1) {
    return {
      kind: "stale",
      why: found === 0 ? "search text not found" : `search text found ${found} times`,
    };
  }
  await Deno.writeTextFile(path, original.replace(m.search, () => m.replace));
  try {
    const broken = await loads(dir, m.file);
    if (broken) return { kind: "stale", why: `the mutant does not load: ${broken}` };
    const run = await runTests(dir, flags, m.tests, m.filter);
    if (run.code === 0) return { kind: "survived", ms: run.ms };
    return { kind: "caught", by: run.failed[0] ?? "(the run failed)", ms: run.ms };
  } finally {
    await Deno.writeTextFile(path, original);
  }
}

/** The test runs of `mutations`, each once: they must pass before anything is planted. */
async function baseline(dir: string, flags: string[], mutations: Mutation[]): Promise<boolean> {
  const runs = new Map<string, Mutation>();
  for (const m of mutations) runs.set(JSON.stringify([m.tests, m.filter ?? null]), m);
  let green = true;
  for (const m of runs.values()) {
    const run = await runTests(dir, flags, m.tests, m.filter);
    const what = m.tests.join(" ") + (m.filter ? ` --filter "${m.filter}"` : "");
    if (run.code === 0) {
      console.log(`baseline  ok      ${what} (${(run.ms / 1000).toFixed(1)} s)`);
    } else {
      green = false;
      console.log(`baseline  FAILED  ${what}: ${run.failed.join("; ") || run.output.slice(-500)}`);
    }
  }
  return green;
}

async function main(args: string[]): Promise<number> {
  const words = args.filter((a) => !a.startsWith("--"));
  const chosen = MUTATIONS.filter((m) =>
    words.length === 0 || words.some((w) => m.name.includes(w))
  );
  if (args.includes("--list")) {
    for (const m of chosen) console.log(`${m.name}\n    ${m.file} → ${m.tests.join(" ")}`);
    return 0;
  }
  if (chosen.length === 0) {
    console.error(`No mutation's name contains ${words.map((w) => `"${w}"`).join(" or ")}`);
    return 2;
  }
  const flags = await testFlags();
  const dir = await scratchCopy();
  try {
    if (!args.includes("--no-baseline") && !await baseline(dir, flags, chosen)) {
      console.log("The tests fail without any mutation: fix them first.");
      return 1;
    }
    const counts = { caught: 0, survived: 0, stale: 0 };
    for (const [i, m] of chosen.entries()) {
      const v = await tryMutation(dir, flags, m);
      counts[v.kind]++;
      const n = `${i + 1}/${chosen.length}`.padStart(5);
      const detail = v.kind === "stale"
        ? v.why
        : `${(v.ms / 1000).toFixed(1)} s${v.kind === "caught" ? `, by "${v.by}"` : ""}`;
      console.log(`${v.kind.padEnd(8)} ${n}  ${m.name} [${m.file}] (${detail})`);
    }
    console.log(
      `mutants: ${counts.caught} caught, ${counts.survived} survived, ${counts.stale} stale ` +
        `(of ${chosen.length})`,
    );
    return counts.caught === chosen.length ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
