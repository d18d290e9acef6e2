/**
 * The standalone binary: `deno task compile`'s command builds it, then an end-to-end smoke
 * suite runs against it. `deno compile` needs the denort runtime, which it downloads; where
 * that cannot happen the test is ignored unless the runtime is at hand (DENORT_BIN, or
 * already in Deno's cache).
 */
import assert from "node:assert/strict";
import { killPid, pidAlive, ROOT, tempHome, waitFor } from "../_helpers/cli.ts";
import { needs } from "../_helpers/needs.ts";
import { processArgv } from "../_helpers/procs.ts";

const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  version: string;
  tasks: Record<string, string>;
};

/** Where `deno compile` will find its runtime, or why it cannot. */
async function denortRuntime(): Promise<{ found: true } | { found: false; why: string }> {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) {
    const ok = await Deno.stat(bin).then((s) => s.isFile, () => false);
    return ok ? { found: true } : { found: false, why: `DENORT_BIN=${bin} is not a file` };
  }
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const denoDir = (JSON.parse(new TextDecoder().decode(info.stdout)) as { denoDir: string })
    .denoDir;
  const cached = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
  if (await Deno.stat(cached).then((s) => s.isFile, () => false)) return { found: true };
  return {
    found: false,
    why: `the denort runtime is not available: DENORT_BIN is not set and ${cached} is not ` +
      `in Deno's cache (deno compile would download it)`,
  };
}

const runtime = await denortRuntime();

/** The `deno task compile` command line with its output redirected to `output`. */
function compileArgs(output: string): string[] {
  const words = config.tasks.compile.trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"], config.tasks.compile);
  assert.ok(!words.includes("-A") && !words.includes("--allow-all"), "explicit permissions");
  const at = words.indexOf("--output");
  assert.ok(at > 0, "the compile task names its --output");
  words[at + 1] = output;
  return words.slice(1);
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test({
  ...needs(
    "deno task compile builds a binary that passes the end-to-end smoke suite",
    runtime.found ? null : runtime.why,
  ),
  async fn() {
    const home = await tempHome();
    const build = await Deno.makeTempDir({ prefix: "queuectl-compile-" });
    const cwd = await Deno.makeTempDir({ prefix: "queuectl-cwd-" });
    const pids: number[] = [];
    const binary = `${build}/queuectl`;
    const q = async (args: string[], stdin?: string): Promise<Result> => {
      const child = new Deno.Command(binary, {
        args,
        cwd,
        env: home.env,
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (stdin !== undefined) {
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(stdin));
        await writer.close();
      }
      const out = await child.output();
      const text = new TextDecoder();
      return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
    };
    try {
      const compiled = await new Deno.Command(Deno.execPath(), {
        args: compileArgs(binary),
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(compiled.code, 0, new TextDecoder().decode(compiled.stderr));

      const version = await q(["--version"]);
      assert.equal(version.stdout, `${config.version}\n`, version.stderr);

      assert.equal((await q(["enqueue", '{"id":"ok1","command":"echo compiled"}'])).code, 0);
      const ndjson = '{"id":"ok2","command":"echo two"}\n' +
        '{"id":"bad","command":"exit 5","max_retries":0}\n';
      const many = await q(["enqueue", "-"], ndjson);
      assert.equal(many.code, 0, many.stderr);

      const report = `${home.home}/junit.xml`;
      const drain = await q([
        "worker",
        "run",
        "--drain",
        "--concurrency",
        "2",
        "--report",
        report,
        "--json",
      ]);
      assert.equal(drain.code, 1, drain.stderr);
      const summary = JSON.parse(drain.stdout) as { completed: number; dead: number };
      assert.deepEqual([summary.completed, summary.dead], [2, 1]);
      const xml = await Deno.readTextFile(report);
      assert.equal(xml.match(/<testcase /g)?.length, 3);
      assert.equal(xml.match(/<failure /g)?.length, 1);

      // Piped, a table is tab-separated rows (a terminal gets cli-table3, inside the binary).
      const list = await q(["list"]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^ok1\tcompleted\t/m);
      const dlq = await q(["dlq", "list", "--json"]);
      assert.equal(dlq.code, 0, dlq.stderr);
      assert.deepEqual((JSON.parse(dlq.stdout) as { id: string }[]).map((j) => j.id), ["bad"]);

      // worker start: the binary starts itself (no deno, no `run`).
      const start = await q(["worker", "start", "--json"]);
      assert.equal(start.code, 0, start.stderr);
      const [worker] = JSON.parse(start.stdout) as { id: string; pid: number }[];
      pids.push(worker.pid);
      const argv = await processArgv(worker.pid);
      assert.deepEqual(argv.slice(0, 3), [binary, "worker", "run"], argv.join(" "));
      assert.equal((await q(["enqueue", '{"id":"ok3","command":"echo later"}'])).code, 0);
      await waitFor(async () => {
        const show = await q(["show", "ok3", "--json"]);
        return show.code === 0 &&
          (JSON.parse(show.stdout) as { state: string }).state === "completed";
      }, { timeoutMs: 30_000, intervalMs: 200, what: "job ok3 to complete" });
      const stop = await q(["worker", "stop"]);
      assert.equal(stop.code, 0, stop.stderr);
      await waitFor(async () => !await pidAlive(worker.pid), {
        timeoutMs: 15_000,
        what: "worker to exit",
      });

      const completions = await q(["completions", "bash"]);
      assert.match(completions.stdout, /complete -o default -F _queuectl queuectl/);

      // The data stays in the data dir: the store is there and nothing lands in the cwd.
      assert.ok((await Deno.stat(`${home.home}/queue.db`)).isFile);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(cwd)), []);
    } finally {
      for (const pid of pids) killPid(pid);
      await Deno.remove(build, { recursive: true }).catch(() => {});
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
      await home.cleanup();
    }
  },
});
