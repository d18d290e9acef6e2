/**
 * `enqueue` without the command tree: a plain enqueue (the call scripts make thousands of)
 * is parsed with node:util's parseArgs from the same option table as the tree, so it does
 * not pay for loading commander. Anything it does not fully understand (help, an unknown
 * option, a malformed value) returns null and goes to the full CLI, which reports it.
 * @module
 */
import { parseArgs } from "node:util";
import { describeError } from "../errors.ts";
import { type CliContext, pathsOf } from "./context.ts";
import { ENQUEUE_OPTIONS, GLOBAL_OPTIONS, optionParts } from "./enqueue_options.ts";

type ParseOptions = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Runs `enqueue …` if `argv` is one it can parse alone; null to hand it to the full CLI. */
export async function fastEnqueue(ctx: CliContext, argv: string[]): Promise<number | null> {
  if (argv[0] !== "enqueue" || argv.includes("--help") || argv.includes("-h")) return null;
  const specs = [...ENQUEUE_OPTIONS, ...GLOBAL_OPTIONS].map(optionParts);
  const options: ParseOptions = {};
  for (const s of specs) {
    options[s.long] = {
      type: s.takesValue ? "string" : "boolean",
      ...(s.short ? { short: s.short } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(1), options, allowPositionals: true, strict: true });
  } catch {
    return null;
  }
  const values: Record<string, unknown> = {};
  for (const s of specs) {
    const value = parsed.values[s.long];
    if (value === undefined) continue;
    values[s.key] = s.long.startsWith("no-") ? !value : value;
  }
  try {
    const { enqueueAction } = await import("./enqueue.ts");
    return await enqueueAction(
      ctx,
      pathsOf(ctx, values.db as string | undefined),
      parsed.positionals,
      values,
    );
  } catch (error) {
    const { code, line } = describeError(error);
    ctx.err(line + "\n");
    return code;
  }
}
