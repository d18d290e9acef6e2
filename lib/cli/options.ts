/**
 * The options of the commands that have a fast path (`enqueue`, `status`, `list`, `show`),
 * as data: the command tree (commander) and the fast path that parses these commands
 * without loading it both read these tables.
 * @module
 */

/** One option: commander-style flags (`-f, --file <path>`) and its help text. */
export interface OptionSpec {
  flags: string;
  description: string;
  /** The option may be given several times: its values are collected in a list. */
  repeat?: boolean;
}

/** Every option of `enqueue`. */
export const ENQUEUE_OPTIONS: OptionSpec[] = [
  { flags: "-f, --file <path>", description: "read the job (object, array or NDJSON) from a file" },
  { flags: "--id <id>", description: "job id (default: generated)" },
  {
    flags: "--max-retries <n>",
    description:
      "retries after the first run (a job runs at most n+1 times; default: config max-retries)",
  },
  { flags: "--priority <n>", description: "higher runs first (default 0)" },
  {
    flags: "--delay <duration>",
    description: "run no sooner than this from now: 90, 30s, 5m, 2h, 1d",
  },
  { flags: "--run-at <time>", description: "run no sooner than this ISO-8601 time" },
  {
    flags: "--timeout <duration>",
    description: "kill an attempt that runs longer than this: 600, 90s, 10m, 1h",
  },
  { flags: "--queue <name>", description: "queue name (default: default)" },
  {
    flags: "--after <ids>",
    description: "run only after these jobs completed (comma-separated ids)",
  },
  {
    flags: "--after-any",
    description: "with --after: run once they finished, whatever their outcome",
  },
  { flags: "--unique-key <key>", description: "refuse a second unfinished job with the same key" },
  {
    flags: "--unique-skip",
    description: "with a unique key already held: print the holder's id, exit 0",
  },
  {
    flags: "--skip-existing",
    description: "skip jobs whose id already exists (re-running a partly applied batch)",
  },
  { flags: "--label <text>", description: "free text shown in lists (filter with list --label)" },
  { flags: "--cwd <dir>", description: "run the command in this directory (default: here)" },
  {
    flags: "--env <name=value>",
    description: "add a variable to the command's environment (repeatable)",
    repeat: true,
  },
  {
    flags: "--retry-on <codes>",
    description: "retry only these exit codes (e.g. 75); others go to the DLQ",
  },
  {
    flags: "--fail-fast-on <codes>",
    description: "these exit codes go straight to the DLQ (e.g. 2)",
  },
  { flags: "--start", description: "start a worker when none serves the job's queue" },
  { flags: "--validate", description: "check and print the normalized job without enqueuing it" },
  { flags: "--json", description: "print the new job(s) as JSON instead of their ids" },
];

/** Every option of `status`. */
export const STATUS_OPTIONS: OptionSpec[] = [
  { flags: "-w, --watch", description: "redraw every second on a terminal (Ctrl-C quits)" },
  { flags: "--json", description: "print as JSON" },
];

/** Every option of `list`. */
export const LIST_OPTIONS: OptionSpec[] = [
  { flags: "-s, --state <state>", description: "only jobs in this state" },
  { flags: "-l, --limit <n>", description: "at most this many (default 50)" },
  { flags: "--sort <field>", description: "created (newest first, default), updated or priority" },
  { flags: "--priority <n>", description: "only jobs with this priority" },
  { flags: "--command <text>", description: "only jobs whose command contains this text" },
  {
    flags: "--skip-existing",
    description: "skip jobs whose id already exists (re-running a partly applied batch)",
  },
  { flags: "--label <text>", description: "only jobs with this label" },
  {
    flags: "--format <template>",
    description: "one line per job from a template: '{{.id}} {{.state}}' (fields as --json)",
  },
  { flags: "--columns <names>", description: "these columns, in this order: id,state,queue,…" },
  { flags: "--schedule <name>", description: "only jobs fired by this schedule" },
  { flags: "--json", description: "print as JSON" },
];

/** Every option of `show`. */
export const SHOW_OPTIONS: OptionSpec[] = [
  { flags: "--json", description: "print as JSON" },
];

/** The global options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  {
    flags: "--db <path>",
    description:
      "KV store: a file, or a KV Connect http(s):// URL (default: $QUEUECTL_DB, else $QUEUECTL_HOME/queue.db)",
  },
  { flags: "--no-color", description: "no colour in tables (also NO_COLOR=1 or CI=true)" },
];

/** An option's parts: long name, short letter, whether it takes a value, its camelCase key. */
export function optionParts(spec: OptionSpec): {
  long: string;
  short?: string;
  takesValue: boolean;
  key: string;
  repeat: boolean;
} {
  const long = /--([a-z-]+)/.exec(spec.flags)![1];
  const short = /(?:^|\s)-([a-zA-Z]),/.exec(spec.flags)?.[1];
  const key = long.replace(/^no-/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return { long, short, takesValue: /<[^>]+>/.test(spec.flags), key, repeat: !!spec.repeat };
}
