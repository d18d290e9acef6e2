import assert from "node:assert/strict";
import { completeLine, splitLine } from "../lib/cli/shell.ts";

const tree = [
  { name: "enqueue", subcommands: [] },
  { name: "worker", subcommands: ["run", "start", "stop", "status"] },
  { name: "show", subcommands: [] },
  { name: "status", subcommands: [] },
  { name: "dlq", subcommands: ["list", "retry", "remove"] },
];

Deno.test("completeLine() completes commands, subcommands and job ids", () => {
  assert.deepEqual(completeLine("st", tree, []), [["status"], "st"]);
  assert.deepEqual(completeLine("worker st", tree, []), [["start", "stop", "status"], "st"]);
  assert.deepEqual(completeLine("show jo", tree, ["job1", "job2", "other"]), [
    ["job1", "job2"],
    "jo",
  ]);
  assert.deepEqual(completeLine("dlq retry ", tree, ["a", "b"]), [["a", "b"], ""]);
  assert.deepEqual(completeLine("enqueue x", tree, ["xx"]), [[], "x"]);
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
