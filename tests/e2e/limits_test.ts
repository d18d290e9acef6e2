/**
 * The finishing commit at its largest, run by a real worker on the suite's store: it
 * records the end of a job, releases the job's dependents and claims the lane's next job
 * from a capped queue (job, global and queue settings, running count: four checks), all in
 * one commit, within a KV Connect store's 10 checks.
 * @module
 */
import assert from "node:assert/strict";
import { cli, cliJson, tempHome } from "../_helpers/cli.ts";

Deno.test("e2e: a job with 30 dependents on a capped queue finishes, releases them all while its worker claims the queue's next ready job", async () => {
  const home = await tempHome();
  try {
    const ok = async (args: string[], stdin?: string) => {
      const result = await cli(home, args, stdin === undefined ? {} : { stdin });
      assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    };
    await ok(["queue", "set", "capped", "--concurrency", "2"]);
    const lines = [
      JSON.stringify({ id: "parent", command: "sleep 0.3", queue: "capped", priority: 9 }),
      // Ready while the parent runs: its finishing commit also claims one of these.
      JSON.stringify({ id: "o1", command: "true", queue: "capped" }),
      JSON.stringify({ id: "o2", command: "true", queue: "capped" }),
    ];
    for (let i = 0; i < 30; i++) {
      lines.push(
        JSON.stringify({ id: `c${i}`, command: "true", queue: "capped", after: ["parent"] }),
      );
    }
    await ok(["enqueue", "-"], lines.join("\n"));
    const drain = await cli(home, ["worker", "run", "--drain", "--concurrency", "1"]);
    assert.equal(drain.code, 0, drain.stderr);
    // The commit fits: refused (too many checks), the parent's finish would be lost and the
    // parent would run again once its lease lapsed.
    assert.doesNotMatch(drain.stderr, /store error|TooManyChecks/, drain.stderr);
    const status = await cliJson<{ counts: Record<string, number> }>(home, ["status"]);
    assert.equal(status.counts.completed, 33);
    assert.equal(status.counts.pending, 0);
    const parent = await cliJson<{ attempts: number }>(home, ["show", "parent", "--json"]);
    assert.equal(parent.attempts, 1, "the parent ran once");
  } finally {
    await home.cleanup();
  }
});
