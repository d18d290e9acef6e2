import assert from "node:assert/strict";
import { renderTable, tabSeparated } from "../../lib/output/table.ts";

Deno.test("tabSeparated() puts one row on a line, cells between tabs, breaks inside a cell as spaces", () => {
  assert.equal(
    tabSeparated([["a", 1, "x y"], ["b\tc", 22, "two\nlines\r\n"]]),
    "a\t1\tx y\nb c\t22\ttwo lines ",
  );
  assert.equal(tabSeparated([]), "");
});

Deno.test("renderTable() draws a table with its header for a terminal, plain rows without it otherwise", async () => {
  const rows = [["job1", "pending"], ["job2", "dead"]];
  const piped = await renderTable(["ID", "STATE"], rows, { color: false, terminal: false });
  assert.equal(piped, "job1\tpending\njob2\tdead");
  const drawn = await renderTable(["ID", "STATE"], rows, { color: false, terminal: true });
  const lines = drawn.split("\n");
  assert.match(lines[1], /^│ ID\s+│ STATE\s+│$/);
  assert.ok(lines.some((l) => /^│ job2\s+│ dead\s+│$/.test(l)), drawn);
  assert.ok(!drawn.includes("\x1b["), "no colour unless asked");
});
