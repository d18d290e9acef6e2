import assert from "node:assert/strict";
import { type CliContext, processContext } from "../lib/cli/context.ts";
import { fastCommand, plainOptions } from "../lib/cli/fast.ts";
import { LIST_OPTIONS, optionParts } from "../lib/cli/options.ts";
import { runCli } from "../lib/cli/app.ts";

/** A context writing to strings, on a temp QUEUECTL_HOME. */
function captureContext(
  home: string,
  terminal = false,
): { ctx: CliContext; out: () => string; err: () => string } {
  let out = "", err = "";
  const env: Record<string, string> = { QUEUECTL_HOME: home, NO_COLOR: "1" };
  return {
    ctx: {
      ...processContext(),
      env: (name) => env[name],
      out: (text) => out += text,
      outBytes: (bytes) => out += new TextDecoder().decode(bytes),
      err: (text) => err += text,
      stdoutIsTty: () => terminal,
      stderrIsTty: () => false,
      readStdin: () => Promise.resolve(new Uint8Array()),
      cwd: () => home,
    },
    out: () => out,
    err: () => err,
  };
}

/** Runs argv through the fast path (null when it hands over) and through the full CLI. */
async function both(home: string, argv: string[]) {
  const fast = captureContext(home);
  const fastCode = await fastCommand(fast.ctx, argv);
  const full = captureContext(home);
  const fullCode = await runCli(full.ctx, argv);
  return {
    fast: fastCode === null ? null : { code: fastCode, out: fast.out(), err: fast.err() },
    full: { code: fullCode, out: full.out(), err: full.err() },
  };
}

Deno.test("status, list and show print the same through the fast path as through the command tree, errors included", async () => {
  const home = await Deno.makeTempDir({ prefix: "queuectl-fast-test-" });
  try {
    const setup = captureContext(home);
    for (const args of [["--id", "a", "true"], ["--id", "b", "--priority", "3", "echo hi"]]) {
      assert.equal(await fastCommand(setup.ctx, ["enqueue", ...args]), 0, setup.err());
    }
    const same = [
      ["status", "--json"],
      ["status", "--no-color", "--json"],
      ["list", "--json"],
      ["list", "-s", "pending", "-l", "1", "--json"],
      ["list", "--limit=1", "--sort", "priority", "--json"],
      ["list", "--state", "bogus"],
      ["list", "--limit", "0"],
      ["list", "--priority", "3", "--json"],
      ["show", "a", "--json"],
      ["show", "nope"],
      ["show", "bad id!"],
    ];
    for (const argv of same) {
      const r = await both(home, argv);
      assert.ok(r.fast, `${argv.join(" ")}: the fast path took it`);
      assert.deepEqual(r.fast, r.full, argv.join(" "));
    }
    const usage = await both(home, ["list", "--state", "bogus"]);
    assert.equal(usage.full.code, 2);
    assert.match(usage.full.err, /^[^\n]*bogus[^\n]*\n$/);

    // What the fast path does not fully understand goes to the tree, which reports it.
    const handedOn = [
      ["status", "extra"],
      ["list", "--bogus"],
      ["show"],
      ["show", "a", "b"],
      ["list", "--help"],
      ["status", "-h"],
      ["list", "-sl", "pending"],
      ["list", "--limit", "-3"],
      ["list", "--json=yes"],
      ["list", "--state"],
    ];
    for (const argv of handedOn) {
      const r = await both(home, argv);
      assert.equal(r.fast, null, `${argv.join(" ")}: handed to the tree`);
    }
    assert.equal((await both(home, ["list", "--bogus"])).full.code, 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("list prints one tab-separated line per job when piped (nothing when there is none), and a drawn table on a terminal", async () => {
  const home = await Deno.makeTempDir({ prefix: "queuectl-fast-test-" });
  try {
    const empty = captureContext(home);
    assert.equal(await fastCommand(empty.ctx, ["list"]), 0, empty.err());
    assert.deepEqual([empty.out(), empty.err()], ["", "No jobs\n"], "piped: no rows, a note");
    const emptyTerminal = captureContext(home, true);
    assert.equal(await fastCommand(emptyTerminal.ctx, ["list"]), 0);
    assert.equal(emptyTerminal.out(), "No jobs\n");
    const setup = captureContext(home);
    for (const args of [["--id", "a", "true"], ["--id", "b", "echo\thi"]]) {
      assert.equal(await fastCommand(setup.ctx, ["enqueue", ...args]), 0, setup.err());
    }
    for (const argv of [["list"], ["list", "--state", "pending"]]) {
      const piped = captureContext(home);
      assert.equal(await fastCommand(piped.ctx, argv), 0, piped.err());
      const lines = piped.out().replace(/\n$/, "").split("\n").map((l) => l.split("\t"));
      assert.deepEqual(lines.map((cells) => cells.slice(0, 4)), [
        ["b", "pending", "0/4", "echo hi"],
        ["a", "pending", "0/4", "true"],
      ], argv.join(" "));
      assert.ok(lines.every((cells) => cells.length === lines[0].length), JSON.stringify(lines));
    }
    const terminal = captureContext(home, true);
    assert.equal(await fastCommand(terminal.ctx, ["list"]), 0, terminal.err());
    assert.match(terminal.out(), /^│ ID\s+│ STATE\s+│ RUNS/m);
    assert.match(terminal.out(), /^│ a\s+│ pending\s+│ 0\/4/m);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("plainOptions() reads the plain option forms and declines every other", () => {
  const specs = LIST_OPTIONS.map(optionParts);
  const read: [string[], ReturnType<typeof plainOptions>][] = [
    [[], { values: {}, positionals: [] }],
    [["--state", "dead", "--json"], { values: { state: "dead", json: true }, positionals: [] }],
    [["-s", "dead", "-l", "5"], { values: { state: "dead", limit: "5" }, positionals: [] }],
    [["--limit=5", "--limit", "7"], { values: { limit: "7" }, positionals: [] }],
    [["--command=a=b"], { values: { command: "a=b" }, positionals: [] }],
    [["x", "-", "--", "--state", "-l"], { values: {}, positionals: ["x", "-", "--state", "-l"] }],
  ];
  for (const [args, expected] of read) assert.deepEqual(plainOptions(args, specs), expected);
  for (
    const args of [
      ["--nope"],
      ["-z"],
      ["-sl", "dead"],
      ["--state"],
      ["--state", "-x"],
      ["--json=true"],
    ]
  ) {
    assert.equal(plainOptions(args, specs), null, args.join(" "));
  }
});
