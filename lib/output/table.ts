/**
 * Tables: drawn by cli-table3 for a terminal, and plain tab-separated rows when the output
 * goes to a pipe or a file (for `cut` and `awk`; cli-table3 is then not loaded at all).
 * @module
 */

/** Where a table goes. */
export interface TableOptions {
  /** Colour the header and borders (a drawn table only). */
  color: boolean;
  /** Standard output is a terminal: draw the table; else print tab-separated rows. */
  terminal: boolean;
}

/**
 * Renders rows under a header. On a terminal: a drawn table (cli-table3, loaded here only).
 * Otherwise one line per row, cells separated by tabs, without the header (as `gh` does):
 * tabs and line breaks inside a cell become spaces, so each row stays one line.
 */
export async function renderTable(
  head: string[],
  rows: (string | number)[][],
  options: TableOptions,
): Promise<string> {
  if (!options.terminal) return tabSeparated(rows);
  const { default: Table } = await import("npm:cli-table3@0.6.5");
  const table = new Table({
    head,
    style: { head: options.color ? ["cyan"] : [], border: options.color ? ["grey"] : [] },
  });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}

/**
 * Rows as tab-separated lines, without a trailing line break.
 * @example
 * ```ts
 * tabSeparated([["a", 1], ["b\tc", 2]]); // "a\t1\nb c\t2"
 * ```
 */
export function tabSeparated(rows: (string | number)[][]): string {
  return rows.map((row) => row.map((cell) => String(cell).replace(/[\t\r\n]+/g, " ")).join("\t"))
    .join("\n");
}
