/**
 * `enqueue --skip-existing`: re-running a batch that went in part-way enqueues only what is
 * missing, leaves what is there untouched, and says how many it skipped.
 */
import assert from "node:assert/strict";
import { cli, cliJson, tempHome } from "../_helpers/cli.ts";

interface Row {
  id: string;
  created_at: string;
  command: string;
  skipped?: boolean;
}

const ndjson = (ids: string[], command = "true") =>
  ids.map((id) => JSON.stringify({ id, command })).join("\n") + "\n";

Deno.test("e2e: enqueue --skip-existing enqueues only the missing part of a partly applied batch", async () => {
  const home = await tempHome();
  try {
    const ids = Array.from({ length: 30 }, (_, i) => `batch-${String(i).padStart(2, "0")}`);
    const first = await cli(home, ["enqueue", "-"], { stdin: ndjson(ids.slice(0, 12)) });
    assert.equal(first.code, 0, first.stderr);
    const before = await cliJson<Row[]>(home, ["list", "--limit", "100"]);
    await Deno.writeTextFile(`${home.home}/batch.ndjson`, ndjson(ids, "echo second"));

    const refused = await cli(home, ["enqueue", "--file", "batch.ndjson"]);
    assert.equal(refused.code, 2, "without the flag the batch is refused whole");
    assert.match(refused.stderr, /^Job "batch-00" already exists/);

    const resumed = await cli(home, ["enqueue", "--file", "batch.ndjson", "--skip-existing"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Skipped 12 of 30 jobs: their ids already exist\n$/);
    assert.deepEqual(resumed.stdout.trim().split("\n"), ids.slice(12), "prints the new ids");
    const after = await cliJson<Row[]>(home, ["list", "--limit", "100"]);
    assert.deepEqual(after.map((j) => j.id).sort(), ids);
    for (const old of before) {
      const now = after.find((j) => j.id === old.id)!;
      assert.deepEqual(
        [now.command, now.created_at],
        [old.command, old.created_at],
        `${old.id} is left as it was`,
      );
    }

    const again = await cli(home, ["enqueue", "--file", "batch.ndjson", "--skip-existing"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Skipped 30 of 30 jobs: their ids already exist\n$/);
    assert.equal(again.stdout, "");
  } finally {
    await home.cleanup();
  }
});

Deno.test("e2e: enqueue --skip-existing --json marks the skipped jobs, also for jobs with dependencies", async () => {
  const home = await tempHome();
  try {
    const parent = await cli(home, ["enqueue", "--id", "parent", "true"]);
    assert.equal(parent.code, 0, parent.stderr);
    const batch = [
      { id: "parent", command: "true" },
      { id: "child", command: "true", after: "parent" },
      { id: "grandchild", command: "true", after: "child" },
    ].map((j) => JSON.stringify(j)).join("\n") + "\n";
    const res = await cli(home, ["enqueue", "-", "--skip-existing", "--json"], { stdin: batch });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Skipped 1 of 3 jobs: their ids already exist\n$/);
    const rows = JSON.parse(res.stdout) as Row[];
    assert.deepEqual(rows.map((r) => [r.id, r.skipped ?? false]), [
      ["parent", true],
      ["child", false],
      ["grandchild", false],
    ]);
    const shown = await cliJson<{ waiting_on: string[] }>(home, ["show", "child"]);
    assert.deepEqual(shown.waiting_on, ["parent"], "the new job waits on the one already there");
  } finally {
    await home.cleanup();
  }
});
