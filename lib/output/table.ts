/**
 * Tables for people: cli-table3, loaded only by the commands that draw one.
 * @module
 */

/** Renders rows under a header as a table string (no colour unless asked). */
export async function renderTable(
  head: string[],
  rows: (string | number)[][],
  options: { color: boolean },
): Promise<string> {
  const { default: Table } = await import("npm:cli-table3@0.6.5");
  const table = new Table({
    head,
    style: { head: options.color ? ["cyan"] : [], border: options.color ? ["grey"] : [] },
  });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}
