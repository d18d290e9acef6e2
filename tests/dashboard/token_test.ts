/**
 * The dashboard's token given outside argv: from $QUEUECTL_DASHBOARD_TOKEN or
 * `--token-file`, so that `ps` does not show it to other users.
 */
import assert from "node:assert/strict";
import { cli, tempHome } from "../_helpers/cli.ts";
import { processArgv } from "../_helpers/procs.ts";
import { type DashboardProcess, spawnDashboard } from "./_fixtures.ts";

const TOKEN = "f00dfeed-token-from-outside-argv";

/** Status codes of /api/status without the token, with a wrong one, and with `token`. */
async function statuses(port: string, token: string): Promise<number[]> {
  const codes: number[] = [];
  const tries: Record<string, string>[] = [
    {},
    { authorization: "Bearer wrong-token" },
    { authorization: `Bearer ${token}` },
  ];
  for (const headers of tries) {
    const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers });
    await res.body?.cancel();
    codes.push(res.status);
  }
  return codes;
}

const SOURCES: { name: string; args: string[]; env: Record<string, string> }[] = [
  { name: "$QUEUECTL_DASHBOARD_TOKEN", args: [], env: { QUEUECTL_DASHBOARD_TOKEN: TOKEN } },
  { name: "--token-file", args: ["--token-file", "token.txt"], env: {} },
];

for (const given of SOURCES) {
  Deno.test(`queuectl dashboard takes its token from ${given.name}, off argv, and requires it`, async () => {
    const home = await tempHome();
    let proc: DashboardProcess | null = null;
    try {
      await Deno.writeTextFile(`${home.home}/token.txt`, `${TOKEN}\n`);
      proc = await spawnDashboard(home, ["--host", "0.0.0.0", "--port", "0", ...given.args], {
        net: "0.0.0.0,127.0.0.1",
        env: given.env,
      });
      const m = /^http:\/\/0\.0\.0\.0:(\d+)\/#token=(.+)$/.exec(proc.link);
      assert.ok(m, `printed ${proc.link}`);
      assert.equal(decodeURIComponent(m[2]), TOKEN, "the link carries the given token");
      assert.deepEqual(await statuses(m[1], TOKEN), [401, 401, 200]);
      assert.doesNotMatch(proc.stderr(), /need the token/, "no token was generated");
      const argv = await processArgv(proc.pid);
      assert.ok(argv.includes("dashboard"), `read the argv of the dashboard: ${argv.join(" ")}`);
      assert.ok(!argv.some((a) => a.includes(TOKEN)), "the token is not in the argv `ps` shows");
    } finally {
      await proc?.kill();
      await home.cleanup();
    }
  });
}

Deno.test("queuectl dashboard with a token from the environment requires it on loopback too", async () => {
  const home = await tempHome();
  let proc: DashboardProcess | null = null;
  try {
    proc = await spawnDashboard(home, ["--port", "0"], {
      env: { QUEUECTL_DASHBOARD_TOKEN: TOKEN },
    });
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/#token=/.exec(proc.link);
    assert.ok(m, `printed ${proc.link}`);
    assert.deepEqual(await statuses(m[1], TOKEN), [401, 401, 200]);
  } finally {
    await proc?.kill();
    await home.cleanup();
  }
});

Deno.test("queuectl dashboard refuses a token it cannot use with exit 2 and one line", async () => {
  const home = await tempHome();
  try {
    await Deno.writeTextFile(`${home.home}/short.txt`, "abc\n");
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ["--token", TOKEN, "--token-file", "t.txt"],
        {},
        /^Give --token or --token-file, not both$/,
      ],
      [
        ["--token-file", "missing.txt"],
        {},
        /^Cannot read --token-file "missing\.txt": no such file$/,
      ],
      [
        ["--token-file", "short.txt"],
        {},
        /^Invalid --token-file "short\.txt": expected 8-256 printable characters/,
      ],
      [
        [],
        { QUEUECTL_DASHBOARD_TOKEN: "has spaces in it" },
        /^Invalid \$QUEUECTL_DASHBOARD_TOKEN: expected 8-256 printable characters/,
      ],
    ];
    for (const [args, env, says] of cases) {
      const res = await cli(home, ["dashboard", "--port", "0", ...args], { env });
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      assert.match(res.stderr.trim(), says);
      assert.equal(res.stderr.trim().split("\n").length, 1);
    }
  } finally {
    await home.cleanup();
  }
});
