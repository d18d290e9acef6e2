/**
 * Shipping queuectl: `deno run` from a URL (this checkout served over HTTP on 127.0.0.1),
 * `deno install -g` from that URL, and the CI pipeline step (`worker run --drain` exit
 * codes, `--report` JUnit XML, colour-free output, shell completions, `--version`).
 */
import assert from "node:assert/strict";
import {
  cli,
  CLI_FLAGS,
  cliCommand,
  killPid,
  killWorkers,
  pidAlive,
  ROOT,
  runArgv,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { missingCommand, needs } from "../_helpers/needs.ts";
import { processArgv } from "../_helpers/procs.ts";

const VERSION = (JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as { version: string })
  .version;

/** This checkout over HTTP on 127.0.0.1: `.ts` as text/plain, `.json` as `jsonType`. */
function serveCheckout(jsonType = "application/json"): { url: string; close(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      if (path.split("/").some((part) => part.startsWith("."))) {
        return new Response("not found", { status: 404 });
      }
      try {
        const body = await Deno.readFile(ROOT + path.slice(1));
        const type = path.endsWith(".json") ? jsonType : "text/plain; charset=utf-8";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/main.ts`,
    close: () => server.shutdown(),
  };
}

/** Runs a command to completion in the data dir (no deno.json there), with its env. */
const run = runArgv;

/** `deno run` of a main module given by URL, as the README shows it. */
const fromUrl = (url: string) => [Deno.execPath(), "run", "--quiet", ...CLI_FLAGS, url];

interface DrainJson {
  completed: number;
  dead: number;
  jobs: number;
  dead_jobs: string[];
}
interface StatusJson {
  counts: Record<string, number>;
}

Deno.test("deno run from a URL: enqueue (also NDJSON on stdin), worker run --drain, status, --version", async () => {
  const home = await tempHome();
  const served = serveCheckout();
  try {
    const q = fromUrl(served.url);
    const version = await run(home, [...q, "--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    const one = await run(home, [...q, "enqueue", '{"id":"a","command":"echo from-url"}']);
    assert.equal(one.code, 0, one.stderr);
    const ndjson = '{"id":"b","command":"echo b"}\n{"id":"c","command":"exit 4","max_retries":0}\n';
    const many = await run(home, [...q, "enqueue", "-"], { stdin: ndjson });
    assert.equal(many.code, 0, many.stderr);
    const drain = await run(home, [
      ...q,
      "worker",
      "run",
      "--drain",
      "--concurrency",
      "2",
      "--json",
    ]);
    assert.equal(drain.code, 1, `a dead job makes the drain exit 1: ${drain.stderr}`);
    const summary = JSON.parse(drain.stdout) as DrainJson;
    assert.deepEqual([summary.completed, summary.dead, summary.dead_jobs], [2, 1, ["c"]]);
    const status = await run(home, [...q, "status", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const counts = (JSON.parse(status.stdout) as StatusJson).counts;
    assert.deepEqual([counts.completed, counts.dead, counts.pending], [2, 1, 0]);
    assert.equal(await Deno.readTextFile(`${home.home}/logs/a/1.out`), "from-url\n");
  } finally {
    await served.close();
    await home.cleanup();
  }
});

Deno.test("deno run from a URL also works when .json is served as text/plain (raw file hosts)", async () => {
  const home = await tempHome();
  const served = serveCheckout("text/plain; charset=utf-8");
  try {
    const version = await run(home, [...fromUrl(served.url), "--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
  } finally {
    await served.close();
    await home.cleanup();
  }
});

Deno.test("worker start from a URL main module runs the worker from that URL; worker stop ends it", async () => {
  const home = await tempHome();
  const served = serveCheckout();
  const pids: number[] = [];
  try {
    const q = fromUrl(served.url);
    const start = await run(home, [...q, "worker", "start", "--json"]);
    assert.equal(start.code, 0, start.stderr);
    const [worker] = JSON.parse(start.stdout) as { id: string; pid: number }[];
    pids.push(worker.pid);
    const argv = await processArgv(worker.pid);
    assert.equal(argv[1], "run", argv.join(" "));
    assert.ok(argv.includes("--no-config"), argv.join(" "));
    assert.ok(argv.includes(`--allow-import=${new URL(served.url).host}`), argv.join(" "));
    assert.ok(argv.includes(served.url), argv.join(" "));
    const enq = await run(home, [...q, "enqueue", '{"id":"w1","command":"echo by-worker"}']);
    assert.equal(enq.code, 0, enq.stderr);
    await waitFor(async () => {
      const show = await run(home, [...q, "show", "w1", "--json"]);
      return show.code === 0 &&
        (JSON.parse(show.stdout) as { state: string }).state === "completed";
    }, { timeoutMs: 30_000, intervalMs: 200, what: "job w1 to complete" });
    const stop = await run(home, [...q, "worker", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`${worker.id} .*stopped`));
    await waitFor(async () => !await pidAlive(worker.pid), {
      timeoutMs: 15_000,
      what: "worker to exit",
    });
  } finally {
    await killWorkers(home);
    for (const pid of pids) killPid(pid);
    await served.close();
    await home.cleanup();
  }
});

Deno.test("deno install -g from a URL: the installed command enqueues, drains and reports status", async () => {
  const home = await tempHome();
  const served = serveCheckout();
  const root = await Deno.makeTempDir({ prefix: "queuectl-install-" });
  try {
    const install = await run(home, [
      Deno.execPath(),
      "install",
      "--quiet",
      "-g",
      "-n",
      "queuectl",
      "--root",
      root,
      ...CLI_FLAGS,
      served.url,
    ]);
    assert.equal(install.code, 0, install.stderr);
    const bin = `${root}/bin/queuectl`;
    assert.ok((await Deno.stat(bin)).isFile, `${bin} exists`);
    const enq = await run(home, [bin, "enqueue", "--", "echo", "installed"]);
    assert.equal(enq.code, 0, enq.stderr);
    const drain = await run(home, [bin, "worker", "run", "--drain"]);
    assert.equal(drain.code, 0, drain.stderr);
    assert.match(drain.stdout, /Drained 1 job\(s\).*1 completed/);
    const status = await run(home, [bin, "status", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as StatusJson).counts.completed, 1);
  } finally {
    await served.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await home.cleanup();
  }
});

Deno.test("worker run --drain exits 0 when every job completed, 1 when one ended dead, 2 on a usage error", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", "echo one"]);
    await cli(home, ["enqueue", "echo two"]);
    const ok = await cli(home, ["worker", "run", "--drain", "--concurrency", "2"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Drained 2 job\(s\) in .*: 2 completed, .* 0 dead/);
    await cli(home, ["enqueue", '{"id":"bad","command":"exit 9","max_retries":0}']);
    const bad = await cli(home, ["worker", "run", "--drain", "--concurrency", "2"]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, /1 dead/);
    for (
      const args of [
        ["worker", "run", "--drain", "--concurrency", "0"],
        ["worker", "run", "--drain", "--no-such-option"],
      ]
    ) {
      const usage = await cli(home, args);
      assert.equal(usage.code, 2, `${args.join(" ")}: ${usage.stderr}`);
      assert.equal(usage.stderr.trim().split("\n").length, 1, usage.stderr);
    }
  } finally {
    await home.cleanup();
  }
});

Deno.test("worker run --drain --report writes JUnit XML: a testcase per job, a failure for dead ones", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["enqueue", '{"id":"ok","command":"echo fine"}']);
    await cli(home, [
      "enqueue",
      '{"id":"bad","command":"echo \\"<oops>\\" >&2; exit 3","max_retries":0}',
    ]);
    const drain = await cli(home, ["worker", "run", "--drain", "--report", "report.xml"]);
    assert.equal(drain.code, 1, drain.stderr);
    const xml = await Deno.readTextFile(`${home.home}/report.xml`);
    assert.match(
      xml,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites [^>]*tests="2" failures="1"/,
    );
    assert.equal(xml.match(/<testcase /g)?.length, 2);
    assert.match(
      xml,
      /<testcase name="ok" classname="queuectl.default" time="[0-9.]+">\n {6}<system-out>fine\n<\/system-out>/,
    );
    assert.match(
      xml,
      /<testcase name="bad"[^>]*>\n {6}<failure message="exit code 3" type="exited">/,
    );
    // The job wrote "<oops>" to stderr: it goes to <system-err>, not <system-out>.
    assert.match(
      xml,
      /<\/failure>\n {6}<system-err>&lt;oops&gt;\n<\/system-err>\n {4}<\/testcase>/,
    );

    const unwritable = await cli(home, [
      "worker",
      "run",
      "--drain",
      "--report",
      "/nonexistent/dir/r.xml",
    ]);
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.stderr, /^Cannot write report "\/nonexistent\/dir\/r.xml": /m);
  } finally {
    await home.cleanup();
  }
});

Deno.test({
  ...needs(
    "CI=true, NO_COLOR and --no-color keep ANSI escapes out of output even on a terminal",
    await missingCommand("script", "bsdutils"),
  ),
  async fn() {
    const home = await tempHome();
    try {
      await cli(home, ["enqueue", "echo colour"]);
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      // `script` gives the command a pseudo-terminal, as a person's shell would.
      // The environment of this test, less whatever already turns colour off.
      const inherited = Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([name]) =>
          !["NO_COLOR", "CI", "FORCE_COLOR", "QUEUECTL_HOME"].includes(name)
        ),
      );
      const onTerminal = async (env: Record<string, string>, extra: string[] = []) => {
        const line = [...cliCommand(), "list", ...extra].map(quote).join(" ");
        const out = await new Deno.Command("script", {
          args: ["-qec", line, "/dev/null"],
          clearEnv: true,
          env: { ...inherited, TERM: "xterm", ...env },
          cwd: home.home,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        return new TextDecoder().decode(out.stdout);
      };
      const base = { QUEUECTL_HOME: home.home, ...home.store.env };
      const ESC = "\u001b[";
      assert.ok((await onTerminal(base)).includes(ESC), "a terminal gets colour by default");
      assert.ok(!(await onTerminal({ ...base, CI: "true" })).includes(ESC), "CI=true");
      assert.ok(!(await onTerminal({ ...base, NO_COLOR: "1" })).includes(ESC), "NO_COLOR=1");
      assert.ok(!(await onTerminal(base, ["--no-color"])).includes(ESC), "--no-color");
    } finally {
      await home.cleanup();
    }
  },
});

Deno.test("completions bash: bash -n accepts it and it completes commands, subcommands and options", async () => {
  const home = await tempHome();
  try {
    const out = await cli(home, ["completions", "bash"]);
    assert.equal(out.code, 0, out.stderr);
    const file = `${home.home}/queuectl.bash`;
    await Deno.writeTextFile(file, out.stdout);
    const check = await run(home, ["bash", "-n", file]);
    assert.equal(check.code, 0, check.stderr);
    const probe = [
      `source ${file}`,
      `t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _queuectl; echo "\${COMPREPLY[*]}"; }`,
      `t queuectl enq`,
      `t queuectl worker st`,
      `t queuectl --db x.db worker run --con`,
      `t queuectl dlq r`,
      `t queuectl completions ''`,
      `t queuectl list --state ''`,
    ].join("\n");
    const result = await run(home, ["bash", "-c", probe]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.split("\n").slice(0, 6), [
      "enqueue",
      "start stop status",
      "--concurrency",
      "retry remove",
      "bash zsh fish",
      "",
    ]);
    const unknown = await cli(home, ["completions", "tcsh"]);
    assert.equal(unknown.code, 2, unknown.stderr);
  } finally {
    await home.cleanup();
  }
});

Deno.test({
  ...needs(
    "completions zsh: zsh -n accepts it and it offers subcommands with descriptions",
    await missingCommand("zsh"),
  ),
  async fn() {
    const home = await tempHome();
    try {
      const out = await cli(home, ["completions", "zsh"]);
      assert.equal(out.code, 0, out.stderr);
      const file = `${home.home}/_queuectl`;
      await Deno.writeTextFile(file, out.stdout);
      const check = await run(home, ["zsh", "-n", file]);
      assert.equal(check.code, 0, check.stderr);
      // compsys itself needs a terminal: stand in for its two functions the script calls.
      const probe = [
        `compdef() { :; }`,
        `_describe() { local n=\${@[-1]}; print -r -- "\${(Pj:|:)n}"; }`,
        `_files() { print -r -- "<files>"; }`,
        `source ${file}`,
        `t() { words=("$@"); CURRENT=\${#words}; _queuectl; }`,
        `t queuectl worker st`,
        `t queuectl --db ''`,
      ].join("\n");
      const result = await run(home, ["zsh", "-c", probe]);
      assert.equal(result.code, 0, result.stderr);
      const [worker, db] = result.stdout.split("\n");
      assert.match(worker, /^run:run one worker in the foreground.*\|start:start detached/);
      assert.equal(db, "<files>");
    } finally {
      await home.cleanup();
    }
  },
});

Deno.test({
  ...needs(
    "completions fish: fish -n accepts it and it completes subcommands and options",
    await missingCommand("fish"),
  ),
  async fn() {
    const home = await tempHome();
    try {
      const out = await cli(home, ["completions", "fish"]);
      assert.equal(out.code, 0, out.stderr);
      const file = `${home.home}/queuectl.fish`;
      await Deno.writeTextFile(file, out.stdout);
      const check = await run(home, ["fish", "--no-execute", file]);
      assert.equal(check.code, 0, check.stderr);
      const complete = async (line: string) => {
        const result = await run(home, [
          "fish",
          "--no-config",
          "-c",
          `source ${file}; complete -C '${line}'`,
        ]);
        assert.equal(result.code, 0, result.stderr);
        return result.stdout.trim().split("\n").map((l) => l.split("\t")[0]);
      };
      assert.deepEqual((await complete("queuectl worker st")).sort(), ["start", "status", "stop"]);
      assert.deepEqual(await complete("queuectl --db x worker run --con"), ["--concurrency"]);
    } finally {
      await home.cleanup();
    }
  },
});

Deno.test("--version and -V print the version from deno.json", async () => {
  const home = await tempHome();
  try {
    for (const flag of ["--version", "-V"]) {
      const out = await cli(home, [flag]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `${VERSION}\n`);
    }
  } finally {
    await home.cleanup();
  }
});
