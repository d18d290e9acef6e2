/**
 * The command tree (commander): names, options, help texts and examples. Actions live in
 * the files beside this one; this file only wires them and maps errors to exit codes.
 * @module
 */
import { Command, CommanderError } from "npm:commander@14.0.3";
import { describeError, EXIT_USAGE } from "../errors.ts";
import { type CliContext, pathsOf } from "./context.ts";
import {
  ENQUEUE_OPTIONS,
  GLOBAL_OPTIONS,
  LIST_OPTIONS,
  SHOW_OPTIONS,
  STATUS_OPTIONS,
} from "./options.ts";

import { VERSION } from "./version.ts";
import { COMPLETE_COMMAND } from "./completion_values.ts";

interface Globals {
  db?: string;
  color?: boolean;
}

const examples = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

/** Runs the CLI with `argv` (without the program name) and returns the exit code. */
export async function runCli(ctx: CliContext, argv: string[]): Promise<number> {
  let exitCode = 0;
  let errorText = "";
  const program = new Command("queuectl");
  for (const o of GLOBAL_OPTIONS) program.option(o.flags, o.description);
  program
    .description("A background job queue for shell commands, on Deno KV.")
    .version(VERSION, "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.out(s),
      writeErr: (s) => errorText += s,
      outputError: (s) => errorText += s,
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      examples([
        `queuectl enqueue '{"id":"job1","command":"sleep 2"}'`,
        "queuectl worker start --count 3",
        "queuectl status",
        "queuectl list --state pending",
        "queuectl dlq retry job1",
        "queuectl worker stop",
      ]),
    );

  const paths = (cmd: Command) => pathsOf(ctx, (cmd.optsWithGlobals() as Globals).db);
  const act = <A extends unknown[]>(
    fn: (paths: ReturnType<typeof pathsOf>, cmd: Command, ...args: A) => Promise<number>,
  ) =>
  async (...raw: unknown[]) => {
    const cmd = raw[raw.length - 1] as Command;
    exitCode = await fn(paths(cmd), cmd, ...(raw.slice(0, -2) as A));
  };
  const opts = (cmd: Command) => cmd.optsWithGlobals();

  const enqueue = program.command("enqueue");
  for (const o of ENQUEUE_OPTIONS) {
    if (o.repeat) {
      enqueue.option(o.flags, o.description, (v: string, all: string[] = []) => [...all, v]);
    } else enqueue.option(o.flags, o.description);
  }
  enqueue
    .description("add a job: a JSON spec, a shell command, a .json file, or - for NDJSON on stdin")
    .argument("[job...]", "JSON spec, or the command to run")
    .addHelpText(
      "after",
      examples([
        `queuectl enqueue '{"id":"job1","command":"sleep 2","max_retries":2}'`,
        `queuectl enqueue -- echo hello world`,
        `queuectl enqueue "make test" --priority 5 --timeout 600`,
        `queuectl enqueue --id deploy --after build,test "make deploy"`,
        `queuectl enqueue --unique-key nightly --unique-skip "backup.sh"`,
        `queuectl enqueue job.json`,
        `queuectl enqueue - < jobs.ndjson          # one JSON job per line, fast path`,
      ]) +
        "\nSpec fields: id, command (required), max_retries, priority, timeout, queue, run_at, delay,\n" +
        "label, unique_key, after, after_any, retry_on, fail_fast_on, cwd, env.\n" +
        "max_retries counts retries after the first run: max_retries 3 means at most 4 runs.\n",
    )
    .action(act(async (p, cmd, job: string[]) => {
      const { enqueueAction } = await import("./enqueue.ts");
      // After `--` every word is part of a command, never a spec.
      return await enqueueAction(ctx, p, job, { ...opts(cmd), literal: argv.includes("--") });
    }));

  const worker = program.command("worker").description("run, start, stop and list workers");
  worker
    .command("run")
    .description("run one worker in the foreground (what `worker start` spawns)")
    .option("--drain", "exit once no job is ready or waiting for a retry (delayed jobs are left)")
    .option("-c, --concurrency <n>", "jobs run at once by this worker (default 1)")
    .option("--queue <names>", "serve only these queues (comma-separated)")
    .option("--json", "with --drain: print the summary as JSON")
    .option("--report <file>", "write a JUnit XML report (one testcase per job) to this file")
    .addOption(hidden("--worker-id <id>"))
    .addOption(hidden("--log-file <path>"))
    .addHelpText(
      "after",
      examples([
        "queuectl worker run",
        "queuectl worker run --drain --concurrency 4",
        "queuectl worker run --drain --concurrency 4 --report junit.xml   # in a CI step",
      ]) +
        "\nA failed job is retried after backoff-base ^ attempts seconds, up to its max_retries:" +
        " a job with max_retries n runs at most n+1 times, then goes to the DLQ (dead).\n" +
        "Exit code with --drain: 0 when no job this worker ran ended dead, 1 when one did," +
        " 2 on a usage error.\n" +
        "SIGINT/SIGTERM: finish running jobs, then exit; a second signal kills them and requeues.\n",
    )
    .action(act(async (p, cmd) => {
      const { workerRunAction } = await import("./worker.ts");
      return await workerRunAction(ctx, p, opts(cmd));
    }));
  worker
    .command("start")
    .description("start detached workers and print their ids and pids")
    .option("-n, --count <n>", "how many workers (default 1): lanes of one process")
    .option("-c, --concurrency <n>", "jobs run at once by each worker (default 1)")
    .option("--separate", "run the --count workers as separate processes")
    .option("--queue <names>", "serve only these queues (comma-separated)")
    .option("--foreground", "run one worker in the foreground (same as `worker run`)")
    .option("--json", "print the started workers as JSON")
    .addHelpText(
      "after",
      examples([
        "queuectl worker start --count 3",
        "queuectl worker start --count 3 --separate   # three processes",
      ]),
    )
    .action(act(async (p, cmd) => {
      const { workerStartAction } = await import("./worker.ts");
      return await workerStartAction(ctx, p, opts(cmd));
    }));
  worker
    .command("stop")
    .description("stop all workers: each finishes its running job, then exits")
    .option("--timeout <duration>", "then stop by force: kill jobs and put them back (30, 2m)")
    .option("--force", "kill running jobs now and put them back to pending")
    .option("--no-wait", "ask the workers to stop and return at once")
    .option("--json", "print what stopped as JSON")
    .addHelpText(
      "after",
      examples([
        "queuectl worker stop",
        "queuectl worker stop --timeout 30",
        "queuectl worker stop --force",
      ]),
    )
    .action(act(async (p, cmd) => {
      const { workerStopAction } = await import("./worker.ts");
      return await workerStopAction(ctx, p, opts(cmd));
    }));
  worker
    .command("status")
    .alias("list")
    .description("list live workers and the jobs they run")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { workerStatusAction } = await import("./worker.ts");
      return await workerStatusAction(ctx, p, opts(cmd));
    }));

  const status = program.command("status");
  for (const o of STATUS_OPTIONS) status.option(o.flags, o.description);
  status
    .description("job counts per state and the live workers")
    .action(act(async (p, cmd) => {
      const { statusAction } = await import("./status.ts");
      return await statusAction(ctx, p, opts(cmd));
    }));
  const list = program.command("list");
  for (const o of LIST_OPTIONS) list.option(o.flags, o.description);
  list
    .alias("ls")
    .description("list jobs, newest first")
    .addHelpText(
      "after",
      examples([
        "queuectl list",
        "queuectl list --state pending --limit 20",
        "queuectl list --state failed --command curl",
        "queuectl list --json",
      ]) +
        "\nStates: pending, processing, completed, failed (waiting to retry), dead (DLQ), cancelled.\n",
    )
    .action(act(async (p, cmd) => {
      const { listAction } = await import("./status.ts");
      return await listAction(ctx, p, opts(cmd));
    }));
  const show = program.command("show");
  for (const o of SHOW_OPTIONS) show.option(o.flags, o.description);
  show
    .description("show one job with every attempt")
    .argument("<id>", "job id")
    .action(act(async (p, cmd, id: string) => {
      const { showAction } = await import("./status.ts");
      return await showAction(ctx, p, id, opts(cmd));
    }));
  program
    .command("cancel")
    .description("cancel a waiting job, or kill a running one (it ends cancelled, not retried)")
    .argument("<id>", "job id")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd, id: string) => {
      const { cancelAction } = await import("./dlq.ts");
      return await cancelAction(ctx, p, id, opts(cmd));
    }));

  program
    .command("retry")
    .alias("restart")
    .description("run finished jobs again (completed, dead or cancelled): back to pending")
    .argument("<id...>", "job ids")
    .option("--json", "print what was retried as JSON")
    .addHelpText(
      "after",
      examples(["queuectl retry build", "queuectl restart build test"]) +
        "\nAttempts are reset, earlier runs are kept (show, logs --attempt), and the jobs its bad\n" +
        "end had cancelled (--after) wait for it again.\n",
    )
    .action(act(async (p, cmd, ids: string[]) => {
      const { retryAction } = await import("./jobs.ts");
      return await retryAction(ctx, p, ids, opts(cmd));
    }));
  program
    .command("rm")
    .description("remove finished jobs with their attempts and logs")
    .argument("<id...>", "job ids")
    .option("--force", "cancel a waiting or running job first, then remove it")
    .option("--json", "print the removed ids as JSON")
    .addHelpText("after", examples(["queuectl rm build", "queuectl rm --force stuck"]))
    .action(act(async (p, cmd, ids: string[]) => {
      const { removeAction } = await import("./jobs.ts");
      return await removeAction(ctx, p, ids, opts(cmd));
    }));
  program
    .command("edit")
    .description("change a waiting job: command, priority, run time, queue or label")
    .argument("<id>", "job id")
    .option("--command <command>", "the new command")
    .option("--priority <n>", "the new priority")
    .option("--run-at <time>", "run no sooner than this ISO-8601 time")
    .option("--delay <duration>", "run no sooner than this from now: 90, 30s, 5m, 2h, 1d")
    .option("--queue <name>", "move it to this queue")
    .option("--label <text>", 'the new label ("" removes it)')
    .option("--json", "print the edited job as JSON")
    .addHelpText(
      "after",
      examples([
        "queuectl edit build --priority 10",
        "queuectl edit nightly --run-at 2027-01-01T03:00:00Z --label new-year",
        "EDITOR=vi queuectl edit build            # the fields as JSON in $EDITOR",
      ]),
    )
    .action(act(async (p, cmd, id: string) => {
      const { editAction } = await import("./jobs.ts");
      return await editAction(ctx, p, id, opts(cmd));
    }));

  program
    .command("logs")
    .description("print the output of a job's latest (or given) attempt")
    .argument("<id>", "job id")
    .option("-a, --attempt <n>", "which attempt (default: the latest)")
    .option("-f, --follow", "stream the output while the job runs; end when it ends")
    .option("--stderr", "standard error instead of standard output")
    .addHelpText("after", examples(["queuectl logs job1", "queuectl logs job1 --follow"]))
    .action(act(async (p, cmd, id: string) => {
      const { logsAction } = await import("./logs.ts");
      return await logsAction(ctx, p, id, opts(cmd));
    }));
  program
    .command("wait")
    .description("wait until jobs finish: exit 0 if all completed, 1 otherwise")
    .argument("<id...>", "job ids")
    .option("--timeout <duration>", "give up (exit 1) after this long: 30, 30s, 10m")
    .option("--json", "print the final states as JSON")
    .addHelpText("after", examples(["id=$(queuectl enqueue 'make test') && queuectl wait $id"]))
    .action(act(async (p, cmd, ids: string[]) => {
      const { waitAction } = await import("./wait.ts");
      return await waitAction(ctx, p, ids, opts(cmd));
    }));
  program
    .command("stats")
    .description("throughput, success rate, run and wait times, top failing commands")
    .option("--since <duration>", "window: 30m, 1h (default), 1d")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { statsAction } = await import("./stats.ts");
      return await statsAction(ctx, p, opts(cmd));
    }));
  program
    .command("purge")
    .description("delete finished jobs with their attempts and logs")
    .option("--completed", "purge completed jobs")
    .option("--dead", "purge dead jobs")
    .option("--cancelled", "purge cancelled jobs")
    .option("--older-than <duration>", "only those finished longer ago than this (default 0)")
    .option("--json", "print the removed ids as JSON")
    .addHelpText("after", examples(["queuectl purge --completed --older-than 7d"]))
    .action(act(async (p, cmd) => {
      const { purgeAction } = await import("./purge.ts");
      return await purgeAction(ctx, p, opts(cmd));
    }));
  program
    .command("shell")
    .description("an interactive prompt for queuectl commands (history, Tab completion)")
    .action(act(async (p) => {
      const { shellAction } = await import("./shell.ts");
      return await shellAction(ctx, p, commandTree(program), (args) => runCli(ctx, args));
    }));
  program
    .command("dashboard")
    .description("serve a web dashboard, a JSON API and Prometheus /metrics (Ctrl-C stops)")
    .option("-p, --port <n>", "port to listen on; 0 picks a free one (default 8080)")
    .option("--host <address>", "address to bind (default 127.0.0.1; others need a token)")
    .option(
      "--token <token>",
      "required by the API and /metrics (generated off loopback; also $QUEUECTL_DASHBOARD_TOKEN)",
    )
    .option("--token-file <path>", "read the token from this file (kept out of `ps`)")
    .option("--open", "open the page in a browser (xdg-open or open)")
    .addHelpText(
      "after",
      examples([
        "queuectl dashboard",
        "queuectl dashboard --port 0 --open",
        "openssl rand -hex 16 > ~/.queuectl-token && chmod 600 ~/.queuectl-token",
        "queuectl dashboard --host 0.0.0.0 --token-file ~/.queuectl-token",
        "curl -s http://127.0.0.1:8080/metrics",
      ]) + "\nThe first line on stdout is the URL (with #token=… when a token is set).\n",
    )
    .action(act(async (p, cmd) => {
      const { dashboardAction } = await import("./dashboard.ts");
      return await dashboardAction(ctx, p, opts(cmd));
    }));

  const queue = program.command("queue").description("named queues: counts and settings");
  queue
    .command("list")
    .alias("ls")
    .description("each queue's counts, status, concurrency cap and exit-code policy")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { queueListAction } = await import("./queues.ts");
      return await queueListAction(ctx, p, opts(cmd));
    }));
  queue
    .command("set")
    .description("set a queue's concurrency cap (across all workers and hosts) and exit policy")
    .argument("<name>", "queue name")
    .option("--concurrency <n>", "at most n of its jobs run at once")
    .option("--no-concurrency", "no cap")
    .option("--retry-on <codes>", "default for its jobs: retry only these exit codes")
    .option("--no-retry-on", "clear the retry_on default")
    .option("--fail-fast-on <codes>", "default for its jobs: these exit codes go to the DLQ")
    .option("--no-fail-fast-on", "clear the fail_fast_on default")
    .option("--json", "print the settings as JSON")
    .addHelpText(
      "after",
      examples([
        "queuectl queue set emails --concurrency 2",
        "queuectl queue set imports --fail-fast-on 2 --retry-on 75",
      ]),
    )
    .action(act(async (p, cmd, name: string) => {
      const { queueSetAction } = await import("./queues.ts");
      return await queueSetAction(ctx, p, name, opts(cmd));
    }));
  queue
    .command("rm")
    .alias("remove")
    .description("forget a queue with no unfinished jobs: its settings and its name")
    .argument("<name>", "queue name")
    .option("--json", "print the result as JSON")
    .action(act(async (p, cmd, name: string) => {
      const { queueRemoveAction } = await import("./queues.ts");
      return await queueRemoveAction(ctx, p, name, opts(cmd));
    }));
  program
    .command("pause")
    .description("stop claiming from a queue (or every queue); running jobs finish")
    .argument("[queue]", "queue name (default: all queues)")
    .option("--create", "pause a queue no job was enqueued to yet")
    .addHelpText("after", examples(["queuectl pause emails", "queuectl pause --create nightly"]))
    .action(act(async (p, cmd, name: string | undefined) => {
      const { pauseAction } = await import("./queues.ts");
      return await pauseAction(ctx, p, name, true, opts(cmd));
    }));
  program
    .command("resume")
    .description("claim from a paused queue again (no queue: resume every queue)")
    .argument("[queue]", "queue name (default: all queues)")
    .action(act(async (p, _cmd, name: string | undefined) => {
      const { pauseAction } = await import("./queues.ts");
      return await pauseAction(ctx, p, name, false);
    }));

  const schedule = program
    .command("schedule")
    .description("cron schedules: jobs enqueued by the workers at each tick, once across hosts");
  schedule
    .command("add")
    .description("add a schedule: at each tick of the cron expression, enqueue the command")
    .argument("<name>", "schedule name (letters, digits, '.', '_', '-')")
    .argument("<cron>", "cron expression: 5 fields, 6 with seconds first, or @hourly, @daily, …")
    .argument("<command...>", "the shell command (after --)")
    .option("--tz <zone>", "IANA time zone the expression is read in (default UTC)")
    .option("--queue <name>", "queue of the fired jobs (default: default)")
    .option("--max-retries <n>", "retries after the first run (default: config max-retries)")
    .option("--priority <n>", "higher runs first (default 0)")
    .option("--timeout <duration>", "kill an attempt that runs longer than this: 600, 10m")
    .option("--label <text>", "label of the fired jobs")
    .option("--cwd <dir>", "directory the jobs run in (default: the current directory)")
    .option(
      "--env <name=value>",
      "add a variable to the jobs' environment (repeatable)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option("--retry-on <codes>", "retry only these exit codes; others go to the DLQ")
    .option("--fail-fast-on <codes>", "these exit codes go straight to the DLQ")
    .option("--overlap <policy>", "while the last run is unfinished: skip (default), queue, allow")
    .option("--catch-up <n>", "after downtime, fire at most n missed ticks, the latest (default 1)")
    .option("--json", "print the schedule as JSON")
    .addHelpText(
      "after",
      examples([
        "queuectl schedule add backup '0 3 * * *' -- /usr/local/bin/backup.sh --full",
        "queuectl schedule add report @hourly --tz Europe/Berlin --max-retries 3 -- make report",
        "queuectl schedule add ping '*/10 * * * * *' --overlap allow -- curl -fsS localhost:8080",
      ]) +
        "\nRunning workers fire the ticks (no daemon): each tick enqueues one job, id <name>:<tick>,\n" +
        "once however many workers on however many hosts share the store.\n" +
        "--overlap: skip a tick while the last run is waiting or running (skip), run it after\n" +
        "the last run (queue), or run both (allow).\n",
    )
    .action(act(async (p, cmd, name: string, cron: string, command: string[]) => {
      const { scheduleAddAction } = await import("./schedule.ts");
      return await scheduleAddAction(ctx, p, { name, cron, command }, opts(cmd));
    }));
  schedule
    .command("list")
    .alias("ls")
    .description("every schedule with its next run and its last run's state")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { scheduleListAction } = await import("./schedule.ts");
      return await scheduleListAction(ctx, p, opts(cmd));
    }));
  schedule
    .command("show")
    .description(
      "one schedule: settings, next runs, counts of fires, skips and misses, recent jobs",
    )
    .argument("<name>", "schedule name")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd, name: string) => {
      const { scheduleShowAction } = await import("./schedule.ts");
      return await scheduleShowAction(ctx, p, name, opts(cmd));
    }));
  schedule
    .command("rm")
    .alias("remove")
    .description("delete a schedule (the jobs it fired stay)")
    .argument("<name>", "schedule name")
    .action(act(async (p, _cmd, name: string) => {
      const { scheduleRemoveAction } = await import("./schedule.ts");
      return await scheduleRemoveAction(ctx, p, name);
    }));
  for (const [verb, paused] of [["pause", true], ["resume", false]] as const) {
    schedule
      .command(verb)
      .description(
        paused
          ? "stop firing a schedule (its running jobs go on)"
          : "fire a paused schedule again, from its next tick (missed ones are not caught up)",
      )
      .argument("<name>", "schedule name")
      .action(act(async (p, _cmd, name: string) => {
        const { schedulePauseAction } = await import("./schedule.ts");
        return await schedulePauseAction(ctx, p, name, paused);
      }));
  }
  schedule
    .command("run")
    .description("fire a schedule now, whatever its next tick; prints the job id")
    .argument("<name>", "schedule name")
    .option("--json", "print the job as JSON")
    .action(act(async (p, cmd, name: string) => {
      const { scheduleRunAction } = await import("./schedule.ts");
      return await scheduleRunAction(ctx, p, name, opts(cmd));
    }));

  const dlq = program.command("dlq").description("the dead letter queue: jobs out of retries");
  dlq
    .command("list")
    .description("list dead jobs, newest first")
    .option("-l, --limit <n>", "at most this many (default 50)")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { dlqListAction } = await import("./dlq.ts");
      return await dlqListAction(ctx, p, opts(cmd));
    }));
  dlq
    .command("retry")
    .description("put a dead job back to pending with its attempts reset")
    .argument("[id]", "job id")
    .option("--all", "retry every dead job")
    .option("--json", "print the retried ids as JSON")
    .addHelpText("after", examples(["queuectl dlq retry job1", "queuectl dlq retry --all"]))
    .action(act(async (p, cmd, id: string | undefined) => {
      const { dlqRetryAction } = await import("./dlq.ts");
      return await dlqRetryAction(ctx, p, id, opts(cmd));
    }));
  dlq
    .command("remove")
    .alias("rm")
    .description("delete a dead job with its attempts and logs")
    .argument("[id]", "job id")
    .option("--all", "remove every dead job")
    .option("--json", "print the removed ids as JSON")
    .action(act(async (p, cmd, id: string | undefined) => {
      const { dlqRemoveAction } = await import("./dlq.ts");
      return await dlqRemoveAction(ctx, p, id, opts(cmd));
    }));

  const config = program.command("config").description("read and change settings");
  config
    .command("get")
    .description("print one setting, or all")
    .argument("[key]", "setting name (max-retries or max_retries)")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd, key: string | undefined) => {
      const { configGetAction } = await import("./config.ts");
      return await configGetAction(ctx, p, key, opts(cmd));
    }));
  config
    .command("set")
    .description("change a setting (validated)")
    .argument("<key>", "setting name")
    .argument("<value>", "new value")
    .addHelpText(
      "after",
      examples(["queuectl config set max-retries 5", "queuectl config set backoff_base 3"]),
    )
    .action(act(async (p, _cmd, key: string, value: string) => {
      const { configSetAction } = await import("./config.ts");
      return await configSetAction(ctx, p, key, value);
    }));
  config
    .command("list")
    .alias("show")
    .description("every setting with its value, default and meaning")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { configListAction } = await import("./config.ts");
      return await configListAction(ctx, p, opts(cmd));
    }));
  config
    .command("explain-backoff")
    .description("print the retry timeline (attempt, delay, cumulative time) for the settings")
    .option("--max-retries <n>", "for this many retries instead of the config's")
    .option("--json", "print as JSON")
    .action(act(async (p, cmd) => {
      const { configExplainBackoffAction } = await import("./config.ts");
      return await configExplainBackoffAction(ctx, p, opts(cmd));
    }));
  config
    .command("reset")
    .description("forget every stored setting (back to the defaults)")
    .action(act(async (p) => {
      const { configResetAction } = await import("./config.ts");
      return await configResetAction(ctx, p);
    }));

  const SHELLS = ["bash", "zsh", "fish"];
  program
    .command("completions")
    .description("print a shell completion script: bash, zsh or fish")
    .addArgument(program.createArgument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText(
      "after",
      examples([
        "source <(queuectl completions bash)",
        `queuectl completions zsh > "\${fpath[1]}/_queuectl"`,
        "queuectl completions fish > ~/.config/fish/completions/queuectl.fish",
      ]),
    )
    .action(async (shell: string) => {
      const { completionsAction } = await import("./completions.ts");
      type Tree = import("./completions.ts").CompletionCommand;
      const tree = (c: Command): Tree => ({
        name: c.name(),
        aliases: c.aliases(),
        description: c.description(),
        options: c.options.filter((o) => !o.hidden).map((o) => ({
          flags: [o.short, o.long].filter((f): f is string => f !== undefined),
          description: o.description,
          value: o.required || o.optional ? (/[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? "") : null,
        })),
        commands: c.commands.filter((sub) => sub.name() !== COMPLETE_COMMAND).map(tree),
        choices: c.registeredArguments[0]?.argChoices ?? [],
      });
      exitCode = completionsAction(ctx, shell, tree(program));
    });
  // What the completion scripts call for values: job ids, states, queues, keys, labels.
  program
    .command(COMPLETE_COMMAND, { hidden: true })
    .argument("<kind>", "ids, states, queues, config-keys or labels")
    .action(act(async (p, _cmd, kind: string) => {
      const { completeValuesAction } = await import("./completions.ts");
      return await completeValuesAction(ctx, p, kind);
    }));

  // A bare `queuectl` is asking what it can do.
  if (argv.length === 0) argv = ["--help"];
  // `help worker start`: commander's own help command looks one level deep only.
  if (argv[0] === "help" && argv.length > 1) {
    let at: Command = program;
    for (const word of argv.slice(1)) {
      const next = at.commands.find((c) => c.name() === word || c.aliases().includes(word));
      if (!next) {
        const names = at.commands.map((c) => c.name()).filter((n) => n !== "help");
        ctx.err(`Unknown command "${word}": expected one of ${names.join(", ")}\n`);
        return EXIT_USAGE;
      }
      at = next;
    }
    argv = [...argv.slice(1), "--help"];
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      ctx.err(commanderLine(error, errorText) + "\n");
      return EXIT_USAGE;
    }
    const { code, line } = describeError(error);
    ctx.err(line + "\n");
    return code;
  }
}

/** The command names and their subcommand names, as plain data (shell, completions). */
export function commandTree(program: Command): { name: string; subcommands: string[] }[] {
  return program.commands.map((c) => ({
    name: c.name(),
    subcommands: c.commands.map((s) => s.name()),
  }));
}

function hidden(flags: string) {
  return new Command().createOption(flags).hideHelp();
}

/** One line from a commander error: capitalised, with a pointer to --help. */
function commanderLine(error: CommanderError, captured: string): string {
  if (error.code === "commander.help" || error.code === "commander.helpDisplayed") {
    const sub = /Usage: queuectl ([a-z]+)/.exec(captured)?.[1];
    const commands = [...captured.matchAll(/^ {2}([a-z]+)(?:\|[a-z]+)?\s/gm)].map((m) => m[1])
      .filter((c) => c !== "help");
    return `Missing subcommand${sub ? ` for ${sub}` : ""}: expected one of ${commands.join(", ")}` +
      ` (see queuectl ${sub ?? ""} --help)`.replace("  ", " ");
  }
  const text = (captured || error.message).split("\n").map((l) => l.trim()).filter((l) => l)
    .join(" ").replace(/^error:\s*/i, "");
  return text.charAt(0).toUpperCase() + text.slice(1) + " (see --help)";
}
