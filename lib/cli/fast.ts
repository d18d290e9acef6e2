/**
 * The commands scripts and people run most (`enqueue`, `status`, `list`, `show`) without
 * the command tree: they are parsed with node:util's parseArgs from the same option tables
 * as the tree, so they do not pay for loading commander (about 18 ms of every call).
 * Anything the fast path does not fully understand (help, an unknown option, a missing or
 * extra argument) returns null and goes to the full CLI, which reports it. node:util itself
 * is loaded only when there are options to parse (about 7 ms): `enqueue CMD` and `status`
 * have none.
 * @module
 */
import { describeError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { type CliContext, pathsOf } from "./context.ts";
import {
  ENQUEUE_OPTIONS,
  GLOBAL_OPTIONS,
  LIST_OPTIONS,
  optionParts,
  type OptionSpec,
  SHOW_OPTIONS,
  STATUS_OPTIONS,
} from "./options.ts";

type ParseOptions = Record<string, { type: "string" | "boolean"; short?: string }>;

/** A command with a fast path: its options, how many arguments it takes, and its action. */
interface FastCommand {
  options: OptionSpec[];
  /** Positional arguments accepted: [least, most]. */
  args: [number, number];
  run: (
    ctx: CliContext,
    paths: Paths,
    args: string[],
    values: Record<string, unknown>,
  ) => Promise<number>;
}

const FAST: Record<string, FastCommand> = {
  enqueue: {
    options: ENQUEUE_OPTIONS,
    args: [0, Infinity],
    run: async (ctx, paths, args, values) =>
      await (await import("./enqueue.ts")).enqueueAction(ctx, paths, args, values),
  },
  status: {
    options: STATUS_OPTIONS,
    args: [0, 0],
    run: async (ctx, paths, _args, values) =>
      await (await import("./status.ts")).statusAction(ctx, paths, values),
  },
  list: {
    options: LIST_OPTIONS,
    args: [0, 0],
    run: async (ctx, paths, _args, values) =>
      await (await import("./status.ts")).listAction(ctx, paths, values),
  },
  show: {
    options: SHOW_OPTIONS,
    args: [1, 1],
    run: async (ctx, paths, args, values) =>
      await (await import("./status.ts")).showAction(ctx, paths, args[0], values),
  },
};

/** Runs `argv` if it is a command the fast path can parse alone; null to hand it on. */
export async function fastCommand(ctx: CliContext, argv: string[]): Promise<number | null> {
  const command = Object.hasOwn(FAST, argv[0] ?? "") ? FAST[argv[0]] : null;
  if (!command || argv.includes("--help") || argv.includes("-h")) return null;
  const specs = [...command.options, ...GLOBAL_OPTIONS].map(optionParts);
  const options: ParseOptions = {};
  for (const s of specs) {
    options[s.long] = {
      type: s.takesValue ? "string" : "boolean",
      ...(s.short ? { short: s.short } : {}),
    };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  if (!argv.slice(1).some((a) => a.startsWith("-"))) {
    parsed = { values: {}, positionals: argv.slice(1) }; // nothing that could be an option
  } else {
    const { parseArgs } = await import("node:util");
    try {
      parsed = parseArgs({ args: argv.slice(1), options, allowPositionals: true, strict: true });
    } catch {
      return null;
    }
  }
  const [least, most] = command.args;
  const args = parsed.positionals;
  if (args.length < least || args.length > most) return null;
  const values: Record<string, unknown> = {};
  for (const s of specs) {
    const value = parsed.values[s.long];
    if (value === undefined) continue;
    values[s.key] = s.long.startsWith("no-") ? !value : value;
  }
  try {
    return await command.run(ctx, pathsOf(ctx, values.db as string | undefined), args, values);
  } catch (error) {
    const { code, line } = describeError(error);
    ctx.err(line + "\n");
    return code;
  }
}
