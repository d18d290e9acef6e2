import assert from "node:assert/strict";
import { completeLine, splitLine } from "../lib/cli/shell.ts";

const tree = [
  { name: "enqueue", subcommands: [] },
  { name: "worker", subcommands: ["run", "start", "stop", "status"] },
  { name: "show", subcommands: [] },
  { name: "status", subcommands: [] },
  { name: "dlq", subcommands: ["list", "retry", "remove"] },
  { name: "schedule", subcommands: ["add", "list", "show", "rm", "run"] },
];

Deno.test("completeLine() completes commands, subcommands and job ids", () => {
  assert.deepEqual(completeLine("st", tree, { ids: [], schedules: [] }), [["status"], "st"]);
  assert.deepEqual(completeLine("worker st", tree, { ids: [], schedules: [] }), [[
    "start",
    "stop",
    "status",
  ], "st"]);
  assert.deepEqual(
    completeLine("show jo", tree, { ids: ["job1", "job2", "other"], schedules: [] }),
    [
      ["job1", "job2"],
      "jo",
    ],
  );
  assert.deepEqual(completeLine("dlq retry ", tree, { ids: ["a", "b"], schedules: [] }), [[
    "a",
    "b",
  ], ""]);
  assert.deepEqual(completeLine("enqueue x", tree, { ids: ["xx"], schedules: [] }), [[], "x"]);
});

Deno.test("completeLine() completes schedule names, not job ids, after schedule show/rm/run", () => {
  const known = { ids: ["nightly-job"], schedules: ["nightly", "hourly"] };
  assert.deepEqual(completeLine("schedule sh", tree, known), [["show"], "sh"]);
  assert.deepEqual(completeLine("schedule show n", tree, known), [["nightly"], "n"]);
  assert.deepEqual(completeLine("schedule rm ", tree, known), [["nightly", "hourly"], ""]);
  assert.deepEqual(completeLine("schedule run nightly x", tree, known), [[], "x"]);
});

Deno.test("splitLine() honours quotes and refuses shell operators", async () => {
  assert.deepEqual(await splitLine(`enqueue "echo hi there" --priority 2`), [
    "enqueue",
    "echo hi there",
    "--priority",
    "2",
  ]);
  assert.deepEqual(await splitLine(`enqueue '{"command":"a b"}'`), [
    "enqueue",
    '{"command":"a b"}',
  ]);
  assert.equal(typeof await splitLine("enqueue echo a | cat"), "string");
});
