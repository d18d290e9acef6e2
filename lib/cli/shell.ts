/**
 * `queuectl shell`: an interactive prompt that runs queuectl commands in this process,
 * with history (kept in the data dir) and tab completion of commands, job ids and schedule
 * names.
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";
import type { Paths } from "../paths.ts";
import { jobListIds } from "../store/jobs.ts";
import { scheduleNames } from "../store/schedule_views.ts";
import { openStore } from "../store/open.ts";
import type { CliContext } from "./context.ts";

/** Command names and their subcommand names, read from the command tree. */
export type CommandTree = { name: string; subcommands: string[] }[];

/** Commands whose next word is a job id. */
const TAKES_ID = new Set(["show", "cancel", "logs", "wait", "retry", "remove", "rm"]);

/** The words Tab may complete besides commands: recent job ids and schedule names. */
export interface Completions {
  ids: string[];
  schedules: string[];
}

/** What to offer for the word being typed at the end of `line`. */
export function completeLine(
  line: string,
  tree: CommandTree,
  known: Completions,
): [string[], string] {
  const { ids } = known;
  const words = line.trimStart().split(/\s+/);
  const current = words[words.length - 1] ?? "";
  const before = words.slice(0, -1);
  let options: string[];
  if (before.length === 0) options = [...tree.map((c) => c.name), "exit"];
  else {
    const group = tree.find((c) => c.name === before[0]);
    const last = before[before.length - 1];
    if (before.length === 1 && group && group.subcommands.length > 0) options = group.subcommands;
    else if (before[0] === "schedule") options = before.length === 2 ? known.schedules : [];
    else if (TAKES_ID.has(last) || (before[0] === "wait")) options = ids;
    else options = [];
  }
  return [options.filter((o) => o.startsWith(current)), current];
}

/** Splits a typed line into arguments the way a shell would (quotes, escapes). */
export async function splitLine(line: string): Promise<string[] | string> {
  const { parse } = await import("npm:shell-quote@1.12.0");
  const parts = parse(line);
  const args: string[] = [];
  for (const part of parts) {
    if (typeof part === "string") args.push(part);
    else if ("op" in part && part.op === "glob") args.push(part.pattern);
    else return `Unsupported shell syntax near "${"op" in part ? part.op : "?"}": quote it`;
  }
  return args;
}

/** Runs the prompt until `exit` or end of input. */
export async function shellAction(
  ctx: CliContext,
  paths: Paths,
  tree: CommandTree,
  run: (argv: string[]) => Promise<number>,
): Promise<number> {
  const historyFile = `${paths.dataDir}/shell_history`;
  let history: string[] = [];
  try {
    history = (await Deno.readTextFile(historyFile)).split("\n").filter((l) => l).reverse()
      .slice(0, 500);
  } catch {
    // no history yet
  }
  const known = async (): Promise<Completions> => {
    const kv = await openStore(paths);
    try {
      return { ids: await jobListIds(kv, { limit: 200 }), schedules: await scheduleNames(kv) };
    } finally {
      kv.close();
    }
  };
  const terminal = process.stdin.isTTY === true;
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal,
    history,
    historySize: 500,
    completer: (line: string, done: (err: Error | null, result: [string[], string]) => void) => {
      known().then(
        (words) => done(null, completeLine(line, tree, words)),
        () => done(null, completeLine(line, tree, { ids: [], schedules: [] })),
      );
    },
  });
  if (terminal) ctx.err("queuectl shell: type a command (help, exit); Tab completes\n");
  // Lines are queued and run one at a time: a command may still run when input ends.
  const queue: string[] = [];
  let closed = false;
  let wake: (() => void) | null = null;
  rl.on("line", (line: string) => {
    queue.push(line);
    wake?.();
  });
  rl.on("close", () => {
    closed = true;
    wake?.();
  });
  const prompt = () => {
    if (terminal && !closed) rl.prompt();
  };
  rl.setPrompt("queuectl> ");
  prompt();
  while (true) {
    if (queue.length === 0) {
      if (closed) break;
      await new Promise<void>((resolve) => wake = resolve);
      wake = null;
      continue;
    }
    const line = queue.shift()!.trim();
    if (line === "exit" || line === "quit") break;
    if (line !== "") {
      await Deno.writeTextFile(historyFile, line + "\n", { append: true, mode: 0o600 }).catch(
        () => {},
      );
      const args = await splitLine(line);
      if (typeof args === "string") ctx.err(args + "\n");
      else if (args[0] === "shell") ctx.err("Already in the shell\n");
      else if (args[0] === "help") await run(["--help"]);
      else {
        const code = await run(args);
        if (code !== 0 && terminal) ctx.err(`(exit ${code})\n`);
      }
    }
    prompt();
  }
  rl.close();
  if (terminal) ctx.out("\n");
  return 0;
}
