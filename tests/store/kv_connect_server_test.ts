/**
 * The KV Connect test server against Deno's own remote client: reads, lists, check-and-set
 * races, sums, watch, a wrong token, and denokv's limits.
 * @module
 */
import assert from "node:assert/strict";
import { startKvServer } from "../_helpers/kv_connect_server.ts";

/** Opens the server's store with Deno's KV Connect client. */
async function openRemote(url: string, token: string): Promise<Deno.Kv> {
  Deno.env.set("DENO_KV_ACCESS_TOKEN", token);
  return await Deno.openKv(url);
}

Deno.test("KV Connect test server: get, list, check-and-set race, sum and watch through Deno's client", async () => {
  const server = await startKvServer();
  const kv = await openRemote(server.url, server.token);
  try {
    await kv.set(["a", 1], "one");
    await kv.set(["a", 2], { two: 2 });
    assert.equal((await kv.get(["a", 1])).value, "one");
    const listed = await Array.fromAsync(kv.list({ prefix: ["a"] }));
    assert.deepEqual(listed.map((e) => e.value), ["one", { two: 2 }]);

    // Two writers race on one versionstamp: exactly one wins.
    const seen = await kv.get(["a", 1]);
    const results = await Promise.all(
      [1, 2].map((n) => kv.atomic().check(seen).set(["a", 1], `w${n}`).commit()),
    );
    assert.equal(results.filter((r) => r.ok).length, 1);

    await Promise.all([1, 2, 3].map(() => kv.atomic().sum(["n"], 2n).commit()));
    assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 6n);

    const stream = kv.watch([["w"]]);
    const reader = stream.getReader();
    const first = await reader.read();
    assert.equal(first.value?.[0].value, null);
    const writer = await openRemote(server.url, server.token);
    await writer.set(["w"], "changed");
    writer.close();
    let changed = false;
    while (!changed) {
      const next = await reader.read();
      changed = next.value?.[0].value === "changed";
    }
    await reader.cancel();
  } finally {
    kv.close();
    await server.stop();
  }
});

Deno.test("KV Connect test server: denokv's limits hold (11 checks, 11 ranges), a restart keeps the data", async () => {
  const server = await startKvServer();
  let kv = await openRemote(server.url, server.token);
  try {
    await kv.set(["kept"], 1);
    const checks = Array.from({ length: 11 }, (_, i) => ({ key: ["c", i], versionstamp: null }));
    await assert.rejects(() => kv.atomic().check(...checks).set(["x"], 1).commit());
    const ten = await kv.atomic().check(...checks.slice(0, 10)).set(["x"], 1).commit();
    assert.equal(ten.ok, true);
    await assert.rejects(() => kv.getMany(Array.from({ length: 11 }, (_, i) => ["r", i])));
    kv.close();
    await server.restart();
    kv = await openRemote(server.url, server.token);
    assert.equal((await kv.get(["kept"])).value, 1);
  } finally {
    kv.close();
    await server.stop();
  }
});

Deno.test("KV Connect test server: a wrong token is refused", async () => {
  const server = await startKvServer();
  try {
    // In a child process: this process's DENO_KV_ACCESS_TOKEN is shared with the test files
    // running beside this one, which open their servers with the right token.
    const open = (token: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--unstable-kv", `await Deno.openKv(${JSON.stringify(server.url)})`],
        env: { DENO_KV_ACCESS_TOKEN: token },
        stdout: "null",
        stderr: "piped",
      }).output();
    const wrong = await open("wrong");
    assert.equal(wrong.success, false);
    assert.match(new TextDecoder().decode(wrong.stderr), /401 Unauthorized/);
    const right = await open(server.token);
    assert.equal(right.success, true, new TextDecoder().decode(right.stderr));
  } finally {
    await server.stop();
  }
});
