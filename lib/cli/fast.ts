/**
 * The commands scripts and people run most (`enqueue`, `status`, `list`, `show`, and
 * `--version`) without
 * the command tree, so they do not pay for loading commander (about 18 ms of every call).
 * Their options are read from the same option tables as the tree, in their plain forms
 * only: `--name value`, `--name=value`, `--flag`, `-x value`, `-x`, and `--` before words.
 * Anything else (help, an unknown option, grouped short flags, a value that starts with a
 * dash, a missing or extra argument) returns null and goes to the full CLI, which parses
 * and reports it. (node:util's parseArgs did this before, but loading node:util takes about
 * 7 ms of a 40 ms budget; commander stays the parser of record for every other form.)
 * @module
 */
import { describeError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { type CliContext, pathsOf } from "./context.ts";
import { VERSION } from "./version.ts";
import {
  ENQUEUE_OPTIONS,
  GLOBAL_OPTIONS,
  LIST_OPTIONS,
  optionParts,
  type OptionSpec,
  SHOW_OPTIONS,
  STATUS_OPTIONS,
} from "./options.ts";

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

/** An option as the fast path reads it (see optionParts). */
type Spec = ReturnType<typeof optionParts>;

/**
 * Splits `args` into option values (by long name; flags are true) and positionals, for the
 * plain forms only (see the module comment); null for anything else. A repeated option
 * keeps its last value, as in commander.
 */
export function plainOptions(
  args: string[],
  specs: Spec[],
): { values: Record<string, string | boolean | string[]>; positionals: string[] } | null {
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const [name, inline] = long ? splitOnce(arg.slice(2), "=") : [arg.slice(1), undefined];
    const spec = specs.find((s) => (long ? s.long : s.short) === name);
    if (!spec) return null; // unknown, or grouped short flags (`-sl`)
    if (!spec.takesValue) {
      if (inline !== undefined) return null;
      values[spec.long] = true;
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined || (inline === undefined && value.startsWith("-"))) return null;
    if (spec.repeat) values[spec.long] = [...(values[spec.long] as string[] ?? []), value];
    else values[spec.long] = value;
  }
  return { values, positionals };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** Runs `argv` if it is a command the fast path can parse alone; null to hand it on. */
export async function fastCommand(ctx: CliContext, argv: string[]): Promise<number | null> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    ctx.out(`${VERSION}\n`);
    return 0;
  }
  const command = Object.hasOwn(FAST, argv[0] ?? "") ? FAST[argv[0]] : null;
  if (!command || argv.includes("--help") || argv.includes("-h")) return null;
  const specs = [...command.options, ...GLOBAL_OPTIONS].map(optionParts);
  const parsed = plainOptions(argv.slice(1), specs);
  if (!parsed) return null;
  const [least, most] = command.args;
  const args = parsed.positionals;
  if (args.length < least || args.length > most) return null;
  const values: Record<string, unknown> = {};
  for (const s of specs) {
    const value = parsed.values[s.long];
    if (value === undefined) continue;
    values[s.key] = s.long.startsWith("no-") ? !value : value;
  }
  // After `--` every word is part of a command, never a spec (see enqueue's readSpecs).
  if (argv.includes("--")) values.literal = true;
  try {
    return await command.run(ctx, pathsOf(ctx, values.db as string | undefined), args, values);
  } catch (error) {
    const { code, line } = describeError(error);
    ctx.err(line + "\n");
    return code;
  }
}
