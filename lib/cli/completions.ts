/**
 * `queuectl completions bash|zsh|fish`: shell completion scripts generated from the
 * command tree, which app.ts hands over as plain data (names, aliases, options).
 * @module
 */
import { UsageError } from "../errors.ts";
import { type CliContext, withStore } from "./context.ts";
import {
  ARGUMENT_VALUES,
  COMPLETE_COMMAND,
  OPTION_VALUES,
  VALUE_KINDS,
  type ValueKind,
} from "./completion_values.ts";
import type { Paths } from "../paths.ts";
import { storeExists } from "../store/open.ts";
import { JOB_STATES } from "../job.ts";
import { CONFIG_KEYS } from "../config.ts";
import { jobList } from "../store/jobs.ts";
import { queueNamesAll } from "../store/queues.ts";
import { scheduleNames } from "../store/schedule_views.ts";

/** How many recent jobs give ids and labels to complete. */
const RECENT_JOBS = 50;

/**
 * `__complete KIND`: the values completion offers, one per line: job ids (most recent
 * first), states, queues, config keys, labels or schedule names. Nothing (and no store made) when the store
 * does not exist yet.
 */
export async function completeValuesAction(
  ctx: CliContext,
  paths: Paths,
  kind: string,
): Promise<number> {
  if (!(VALUE_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`Unknown kind "${kind}": expected one of ${VALUE_KINDS.join(", ")}`);
  }
  const values = await completeValues(paths, kind as ValueKind);
  if (values.length > 0) ctx.out(values.join("\n") + "\n");
  return 0;
}

async function completeValues(paths: Paths, kind: ValueKind): Promise<string[]> {
  if (kind === "states") return [...JOB_STATES];
  if (kind === "config-keys") return [...CONFIG_KEYS];
  if (!await storeExists(paths)) return [];
  return await withStore(paths, async (kv) => {
    if (kind === "queues") return await queueNamesAll(kv);
    if (kind === "schedules") return await scheduleNames(kv);
    const jobs = await jobList(kv, { limit: RECENT_JOBS });
    if (kind === "ids") return jobs.map((j) => j.id);
    return [...new Set(jobs.flatMap((j) => j.label ? [j.label] : []))];
  });
}

/** The shells a completion script can be printed for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** One of `SHELLS`. */
export type Shell = typeof SHELLS[number];

/** An option as completion sees it. */
export interface CompletionOption {
  /** `-c`, `--concurrency`. */
  flags: string[];
  description: string;
  /** Name of the option's value (`path`, `n`), or null for a switch. */
  value: string | null;
}

/** A command with its subcommands, as plain data taken from the command tree. */
export interface CompletionCommand {
  name: string;
  aliases: string[];
  description: string;
  options: CompletionOption[];
  commands: CompletionCommand[];
  /** The values the first argument may take (none when it is free). */
  choices: string[];
}

/** Prints the completion script for `shell`. */
export function completionsAction(ctx: CliContext, shell: string, tree: CompletionCommand): number {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(`Unknown shell "${shell}": expected one of ${SHELLS.join(", ")}`);
  }
  ctx.out(completionScript(shell as Shell, tree));
  return 0;
}

/**
 * The completion script for `shell`: it completes command and subcommand names, each
 * command's options (with the program's global ones), and falls back to file names for
 * positional arguments and option values.
 *
 * @example
 * ```ts
 * const tree = {
 *   name: "queuectl",
 *   aliases: [],
 *   description: "",
 *   options: [],
 *   commands: [],
 *   choices: [],
 * };
 * completionScript("bash", tree); // "# bash completion for queuectl …"
 * ```
 */
export function completionScript(shell: Shell, tree: CompletionCommand): string {
  const model = flatten(tree);
  switch (shell) {
    case "bash":
      return bashScript(model);
    case "zsh":
      return zshScript(model);
    case "fish":
      return fishScript(model);
  }
}

/** Every command by its canonical path ("" for the program, "worker run"). */
interface Model {
  program: string;
  nodes: Node[];
  /** Options of the program itself, valid after any subcommand too. */
  globals: CompletionOption[];
}

interface Node {
  path: string;
  parent: string;
  /** The name and aliases that lead here from `parent`. */
  names: string[];
  description: string;
  options: CompletionOption[];
  /** Subcommands, or the values the command's argument may take. */
  children: { name: string; description: string }[];
  /** Values asked of `__complete` for the command's arguments, if any. */
  argKind: ValueKind | null;
}

const HELP: CompletionOption = {
  flags: ["-h", "--help"],
  description: "display help for command",
  value: null,
};
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const SAFE_FLAG = /^(-[A-Za-z0-9]|--[A-Za-z0-9][A-Za-z0-9_-]*)$/;

function flatten(tree: CompletionCommand): Model {
  const program = SAFE_NAME.test(tree.name) ? tree.name : "queuectl";
  const nodes: Node[] = [];
  const clean = (options: CompletionOption[]) =>
    options
      .map((o) => ({ ...o, flags: o.flags.filter((f) => SAFE_FLAG.test(f)) }))
      .filter((o) => o.flags.length > 0);
  const visit = (cmd: CompletionCommand, path: string, parent: string) => {
    const commands = cmd.commands.filter((c) => SAFE_NAME.test(c.name));
    nodes.push({
      path,
      parent,
      names: [cmd.name, ...cmd.aliases].filter((n) => SAFE_NAME.test(n)),
      description: cmd.description,
      options: clean(cmd.options),
      children: [
        ...commands.map((c) => ({ name: c.name, description: c.description })),
        ...cmd.choices.filter((v) => SAFE_NAME.test(v)).map((v) => ({ name: v, description: "" })),
      ],
      argKind: ARGUMENT_VALUES[path] ?? null,
    });
    for (const c of commands) visit(c, path === "" ? c.name : `${path} ${c.name}`, path);
  };
  visit(tree, "", "");
  return { program, nodes, globals: clean(tree.options) };
}

/** The options offered at a path: its own, the program's, and --help. */
function optionsAt(model: Model, node: Node): CompletionOption[] {
  return node.path === "" ? [...node.options, HELP] : [...node.options, ...model.globals, HELP];
}

const isPath = (o: CompletionOption) => o.value !== null && /path|file|dir/i.test(o.value);
/** The values an option takes from `__complete`, if any. */
const optionKind = (o: CompletionOption): ValueKind | null =>
  o.value === null ? null : o.flags.map((f) => OPTION_VALUES[f]).find((k) => k) ?? null;

/** A shell function naming what to ask `__complete` for: at an argument, or after a flag. */
function kindFunction(model: Model, fn: string): string {
  const args = model.nodes.filter((n) => n.argKind).map((n) =>
    `    ${sq(`${n.path}:`)}) REPLY=${n.argKind} ;;`
  );
  const flags = model.nodes.flatMap((n) =>
    optionsAt(model, n).flatMap((o) => {
      const kind = optionKind(o);
      return kind ? o.flags.map((f) => `    ${sq(`${n.path}:${f}`)}) REPLY=${kind} ;;`) : [];
    })
  );
  return [
    `# ${fn}_kind PATH FLAG: the kind of values to ask "${model.program} ${COMPLETE_COMMAND}" for (in REPLY).`,
    `${fn}_kind() {`,
    `  case "\${1}:\${2}" in`,
    ...args,
    ...flags,
    `    *) REPLY='' ; return 1 ;;`,
    `  esac`,
    `}`,
  ].join("\n");
}
/** Single-quoted for sh, bash and zsh. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Single-quoted for fish (backslash and quote are its only escapes there). */
const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

/** Shell functions shared by bash and zsh (both read this syntax alike). */
function shFunctions(model: Model, fn: string): string {
  const steps = model.nodes.filter((n) => n.path !== "").map((n) =>
    `    ${n.names.map((name) => sq(`${n.parent}:${name}`)).join("|")}) REPLY=${sq(n.path)} ;;`
  );
  const globalValues = model.globals.filter((o) => o.value !== null).flatMap((o) => o.flags);
  const localValues = model.nodes.flatMap((n) =>
    n.options.filter((o) => o.value !== null).flatMap((o) => o.flags.map((f) => `${n.path}:${f}`))
  );
  const valueCases = [
    ...(globalValues.length
      ? [`    ${globalValues.map((f) => `*:${f}`).join("|")}) return 0 ;;`]
      : []),
    ...(localValues.length ? [`    ${localValues.map(sq).join("|")}) return 0 ;;`] : []),
  ];
  return [
    `# ${fn}_step PATH WORD: the command path after WORD (in REPLY), or failure.`,
    `${fn}_step() {`,
    `  case "\${1}:\${2}" in`,
    ...steps,
    `    *) return 1 ;;`,
    `  esac`,
    `}`,
    ``,
    `# ${fn}_takes_value PATH FLAG: whether FLAG is followed by a value at PATH.`,
    `${fn}_takes_value() {`,
    `  case "\${1}:\${2}" in`,
    ...valueCases,
    `  esac`,
    `  return 1`,
    `}`,
  ].join("\n");
}

function bashScript(model: Model): string {
  const fn = `_${model.program.replace(/-/g, "_")}`;
  const words = model.nodes.flatMap((n) => [
    `    ${sq(`commands:${n.path}`)}) REPLY=${sq(n.children.map((c) => c.name).join(" "))} ;;`,
    `    ${sq(`options:${n.path}`)}) REPLY=${
      sq(optionsAt(model, n).flatMap((o) => o.flags).join(" "))
    } ;;`,
  ]);
  return [
    `# bash completion for ${model.program}`,
    `# Load now:   source <(${model.program} completions bash)`,
    `# Or install: ${model.program} completions bash > ~/.local/share/bash-completion/completions/${model.program}`,
    ``,
    shFunctions(model, fn),
    ``,
    kindFunction(model, fn),
    ``,
    `# ${fn}_words PATH commands|options: the candidate words (in REPLY).`,
    `${fn}_words() {`,
    `  case "\${2}:\${1}" in`,
    ...words,
    `    *) REPLY='' ;;`,
    `  esac`,
    `}`,
    ``,
    `${fn}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" p="" w REPLY i`,
    `  if [[ \${COMP_CWORD} -gt 0 ]]; then prev="\${COMP_WORDS[COMP_CWORD-1]}"; fi`,
    `  COMPREPLY=()`,
    `  for (( i = 1; i < COMP_CWORD; i++ )); do`,
    `    w="\${COMP_WORDS[i]}"`,
    `    case "\${w}" in`,
    `      --) return 0 ;;`,
    `      --*=* | =) continue ;;`,
    `      -*)`,
    `        if ${fn}_takes_value "\${p}" "\${w}"; then`,
    `          (( i++ ))`,
    `          if [[ "\${COMP_WORDS[i]}" == "=" ]]; then (( i++ )); fi`,
    `        fi`,
    `        continue ;;`,
    `    esac`,
    `    ${fn}_step "\${p}" "\${w}" || break`,
    `    p="\${REPLY}"`,
    `  done`,
    `  if [[ "\${prev}" == "=" ]] || { [[ "\${prev}" == -* ]] && ${fn}_takes_value "\${p}" "\${prev}"; }; then`,
    `    if [[ "\${prev}" == -* ]] && ${fn}_kind "\${p}" "\${prev}"; then ${fn}_values "\${REPLY}"; fi`,
    `    return 0`,
    `  fi`,
    `  if [[ "\${cur}" == -* ]]; then ${fn}_words "\${p}" options; else ${fn}_words "\${p}" commands; fi`,
    `  if [[ -z "\${REPLY}" && "\${cur}" != -* ]] && ${fn}_kind "\${p}" ""; then`,
    `    ${fn}_values "\${REPLY}"`,
    `    return 0`,
    `  fi`,
    `  COMPREPLY=( $(compgen -W "\${REPLY}" -- "\${cur}") )`,
    `}`,
    ``,
    `# ${fn}_values KIND: the store's values of KIND that start with the current word, in order.`,
    `${fn}_values() {`,
    `  local v`,
    `  compopt -o nosort 2>/dev/null`,
    `  while IFS= read -r v; do`,
    `    if [[ "\${v}" == "\${cur}"* ]]; then COMPREPLY+=( "\${v}" ); fi`,
    `  done < <(${model.program} ${COMPLETE_COMMAND} "$1" 2>/dev/null)`,
    `}`,
    ``,
    `complete -o default -F ${fn} ${model.program}`,
    ``,
  ].join("\n");
}

function zshScript(model: Model): string {
  const fn = `_${model.program.replace(/-/g, "_")}`;
  const describe = (name: string, description: string) =>
    sq(`${name.replace(/:/g, "\\:")}:${oneLine(description)}`);
  const lists = model.nodes.flatMap((n) => [
    `    ${sq(`commands:${n.path}`)}) reply=(${
      n.children.map((c) => describe(c.name, c.description)).join(" ")
    }) ;;`,
    `    ${sq(`options:${n.path}`)}) reply=(${
      optionsAt(model, n).flatMap((o) => o.flags.map((f) => describe(f, o.description))).join(" ")
    }) ;;`,
  ]);
  return [
    `#compdef ${model.program}`,
    `# zsh completion for ${model.program}`,
    `# Load now:   source <(${model.program} completions zsh)`,
    `# Or install: ${model.program} completions zsh > "\${fpath[1]}/_${model.program}"`,
    ``,
    shFunctions(model, fn),
    ``,
    kindFunction(model, fn),
    ``,
    `# ${fn}_described PATH commands|options: "word:description" pairs (in reply).`,
    `${fn}_described() {`,
    `  case "\${2}:\${1}" in`,
    ...lists,
    `    *) reply=() ;;`,
    `  esac`,
    `}`,
    ``,
    `${fn}() {`,
    `  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" p="" w REPLY`,
    `  local -a reply`,
    `  local -i i`,
    `  for (( i = 2; i < CURRENT; i++ )); do`,
    `    w="\${words[i]}"`,
    `    case "\${w}" in`,
    `      --) _files; return ;;`,
    `      --*=*) continue ;;`,
    `      -*)`,
    `        if ${fn}_takes_value "\${p}" "\${w}"; then (( i++ )); fi`,
    `        continue ;;`,
    `    esac`,
    `    ${fn}_step "\${p}" "\${w}" || break`,
    `    p="\${REPLY}"`,
    `  done`,
    `  if [[ "\${prev}" == -* ]] && ${fn}_takes_value "\${p}" "\${prev}"; then`,
    `    if ${fn}_kind "\${p}" "\${prev}"; then ${fn}_values "\${REPLY}"; else _files; fi`,
    `    return`,
    `  fi`,
    `  if [[ "\${cur}" == -* ]]; then ${fn}_described "\${p}" options; else ${fn}_described "\${p}" commands; fi`,
    `  if (( \${#reply} == 0 )); then`,
    `    if [[ "\${cur}" != -* ]] && ${fn}_kind "\${p}" ""; then ${fn}_values "\${REPLY}"; else _files; fi`,
    `    return`,
    `  fi`,
    `  _describe -t values "${model.program} \${p:-command}" reply`,
    `}`,
    ``,
    `# ${fn}_values KIND: the store's values of KIND, in the order given (recent ids first).`,
    `${fn}_values() {`,
    `  local -a vals`,
    `  vals=("\${(@f)$(${model.program} ${COMPLETE_COMMAND} "$1" 2>/dev/null)}")`,
    `  compadd -V values -- "\${vals[@]}"`,
    `}`,
    ``,
    `if [[ "\${funcstack[1]}" == "${fn}" ]]; then`,
    `  ${fn} "$@"`,
    `else`,
    `  compdef ${fn} ${model.program}`,
    `fi`,
    ``,
  ].join("\n");
}

function fishScript(model: Model): string {
  const fn = `__${model.program.replace(/-/g, "_")}`;
  const c = model.program;
  const steps = model.nodes.filter((n) => n.path !== "").flatMap((n) => [
    `        case ${n.names.map((name) => fq(`${n.parent}:${name}`)).join(" ")}`,
    `            echo ${fq(n.path)}`,
  ]);
  const valuePatterns = [
    ...model.globals.filter((o) => o.value !== null).flatMap((o) => o.flags.map((f) => `*:${f}`)),
    ...model.nodes.flatMap((n) =>
      n.options.filter((o) => o.value !== null).flatMap((o) => o.flags.map((f) => `${n.path}:${f}`))
    ),
  ];
  const optionLine = (o: CompletionOption, condition: string | null) => {
    const parts = [`complete -c ${c}`];
    if (condition !== null) parts.push(`-n ${fq(`${fn}_at ${fq(condition)}`)}`);
    for (const f of o.flags) {
      parts.push(f.startsWith("--") ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
    }
    if (o.value !== null) parts.push(isPath(o) ? "-r -F" : "-x");
    const kind = optionKind(o);
    if (kind) parts.push(`-k -a ${fq(`(${c} ${COMPLETE_COMMAND} ${kind} 2>/dev/null)`)}`);
    parts.push(`-d ${fq(oneLine(o.description))}`);
    return parts.join(" ");
  };
  const lines: string[] = [];
  for (const n of model.nodes) {
    for (const child of n.children) {
      lines.push(
        `complete -c ${c} -n ${fq(`${fn}_at ${fq(n.path)}`)} -f -a ${fq(child.name)} -d ${
          fq(oneLine(child.description))
        }`,
      );
    }
    if (n.argKind) {
      lines.push(
        `complete -c ${c} -n ${fq(`${fn}_at ${fq(n.path)}`)} -f -k -a ${
          fq(`(${c} ${COMPLETE_COMMAND} ${n.argKind} 2>/dev/null)`)
        }`,
      );
    }
    const own = n.path === "" ? [...n.options, HELP] : n.options;
    for (const o of own) lines.push(optionLine(o, n.path === "" ? null : n.path));
  }
  return [
    `# fish completion for ${c}`,
    `# Load now:   ${c} completions fish | source`,
    `# Or install: ${c} completions fish > ~/.config/fish/completions/${c}.fish`,
    ``,
    `# ${fn}_step PATH WORD: prints the command path after WORD, or fails.`,
    `function ${fn}_step`,
    `    switch "$argv[1]:$argv[2]"`,
    ...steps,
    `        case '*'`,
    `            return 1`,
    `    end`,
    `end`,
    ``,
    `# ${fn}_takes_value PATH FLAG: whether FLAG is followed by a value at PATH.`,
    `function ${fn}_takes_value`,
    `    switch "$argv[1]:$argv[2]"`,
    ...(valuePatterns.length
      ? [`        case ${valuePatterns.map(fq).join(" ")}`, `            return 0`]
      : []),
    `    end`,
    `    return 1`,
    `end`,
    ``,
    `# ${fn}_path: the command path typed so far ("" for none, "worker run").`,
    `function ${fn}_path`,
    `    set -l tokens (commandline -opc)`,
    `    set -e tokens[1]`,
    `    set -l p ''`,
    `    set -l skip 0`,
    `    for w in $tokens`,
    `        if test $skip -eq 1`,
    `            set skip 0`,
    `            continue`,
    `        end`,
    `        switch $w`,
    `            case '--'`,
    `                break`,
    `            case '--*=*'`,
    `                continue`,
    `            case '-*'`,
    `                if ${fn}_takes_value "$p" $w`,
    `                    set skip 1`,
    `                end`,
    `                continue`,
    `        end`,
    `        set -l next (${fn}_step "$p" $w)`,
    `        or break`,
    `        set p $next`,
    `    end`,
    `    echo $p`,
    `end`,
    ``,
    `# ${fn}_at PATH: whether the command path typed so far is PATH.`,
    `function ${fn}_at`,
    `    set -l p (${fn}_path)`,
    `    test "$p" = "$argv[1]"`,
    `end`,
    ``,
    ...lines,
    ``,
  ].join("\n");
}
