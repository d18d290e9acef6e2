/**
 * Everything a command touches in the outside world, behind small functions: the
 * environment, standard streams, TTY and colour, the clock, the host name and the store.
 * @module
 */
import { absolutePaths, type Paths, resolvePaths } from "../paths.ts";
import { openStore, storeMissing } from "../store/open.ts";
import type { LaunchContext } from "../supervisor.ts";
import type { TableOptions } from "../output/table.ts";

/** What a command may use; tests and the shell build their own. */
export interface CliContext {
  env: (name: string) => string | undefined;
  out: (text: string) => void;
  /** Raw bytes to stdout (job output may be binary). */
  outBytes: (bytes: Uint8Array) => void;
  err: (text: string) => void;
  stdoutIsTty: () => boolean;
  stderrIsTty: () => boolean;
  /** Standard input as bytes (decoded by the command, which refuses invalid UTF-8). */
  readStdin: () => Promise<Uint8Array>;
  cwd: () => string;
  hostname: () => string;
  pid: number;
  launch: LaunchContext;
}

/** The context of the real process. */
export function processContext(): CliContext {
  const encoder = new TextEncoder();
  return {
    env: (name) => Deno.env.get(name),
    out: (text) => writeAllSync(Deno.stdout, encoder.encode(text)),
    outBytes: (bytes) => writeAllSync(Deno.stdout, bytes),
    err: (text) => writeAllSync(Deno.stderr, encoder.encode(text)),
    stdoutIsTty: () => Deno.stdout.isTerminal(),
    stderrIsTty: () => Deno.stderr.isTerminal(),
    readStdin: async () => await new Response(Deno.stdin.readable).bytes(),
    cwd: () => Deno.cwd(),
    hostname: () => Deno.env.get("QUEUECTL_HOSTNAME") || Deno.hostname(),
    pid: Deno.pid,
    launch: {
      standalone: Deno.build.standalone,
      execPath: Deno.execPath(),
      mainModule: Deno.mainModule,
    },
  };
}

function writeAllSync(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let offset = 0;
  try {
    while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
  } catch (error) {
    // A reader that went away (`queuectl list | head`) is not an error of ours.
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

/** The paths for this invocation (`--db` overrides the KV file), all absolute. */
export function pathsOf(ctx: CliContext, db?: string): Paths {
  const paths = resolvePaths(
    {
      QUEUECTL_HOME: ctx.env("QUEUECTL_HOME"),
      QUEUECTL_DB: ctx.env("QUEUECTL_DB"),
      XDG_DATA_HOME: ctx.env("XDG_DATA_HOME"),
      HOME: ctx.env("HOME"),
    },
    db,
  );
  return absolutePaths(paths, ctx.cwd());
}

/**
 * Whether to colour (or animate) output: the stream is a TTY, no `NO_COLOR`, not under
 * `CI`, and no `--no-color`.
 */
export function useColor(
  ctx: CliContext,
  flag: boolean | undefined,
  stream: "stdout" | "stderr" = "stdout",
): boolean {
  if (flag === false) return false;
  if (ctx.env("NO_COLOR") !== undefined && ctx.env("NO_COLOR") !== "") return false;
  if (ctx.env("CI") === "true") return false;
  return stream === "stdout" ? ctx.stdoutIsTty() : ctx.stderrIsTty();
}

/** How a command's tables are printed: drawn on a terminal (coloured when allowed), else tab-separated. */
export function tableOptions(ctx: CliContext, color: boolean | undefined): TableOptions {
  return { color: useColor(ctx, color), terminal: ctx.stdoutIsTty() };
}

/**
 * A line for people that goes with a table (the table is empty, or a remark above it): on
 * stdout on a terminal, on stderr when piped, so that piped output holds only the rows.
 */
export function tableNote(ctx: CliContext, text: string): void {
  if (ctx.stdoutIsTty()) ctx.out(text);
  else ctx.err(text);
}

/**
 * Runs a command that only reads: on the store when there is one, else, without creating
 * it, on an empty store in memory (with a note on stderr when `note`), so that a mistyped
 * QUEUECTL_HOME or a removed data dir shows as "no store" instead of being made anew.
 */
export async function readStore<T>(
  ctx: CliContext,
  paths: Paths,
  fn: (kv: Deno.Kv) => Promise<T>,
  options: { note?: boolean } = {},
): Promise<T> {
  if (!await storeMissing(paths)) return await withStore(paths, fn);
  if (options.note) {
    ctx.err(`No store at ${paths.dbPath} yet: it is created by the first enqueue\n`);
  }
  const kv = await Deno.openKv(":memory:");
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

/** Opens the store for a command and always closes it. */
export async function withStore<T>(paths: Paths, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await openStore(paths);
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}
