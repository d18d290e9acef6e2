import assert from "node:assert/strict";
import {
  cli,
  cliJson,
  cliSpawn,
  type Spawned,
  type TempHome,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";
import { startKvServer } from "../_helpers/kv_connect_server.ts";

interface View {
  name: string;
  cron: string;
  tz: string;
  paused: boolean;
  overlap: string;
  catch_up: number;
  next_fire_at: string | null;
  last_job_id: string | null;
  last_job_state: string | null;
  fires: number;
  job: Record<string, unknown>;
}

Deno.test("schedule add/list/show/pause/resume/run/rm over the CLI", async () => {
  const h = await tempHome();
  try {
    const added = await cli(h, [
      "schedule",
      "add",
      "nightly",
      "0 3 * * *",
      "--tz",
      "Europe/Berlin",
      "--queue",
      "ops",
      "--max-retries",
      "2",
      "--timeout",
      "10m",
      "--env",
      "TARGET=s3://bucket",
      "--env",
      "LANG=C",
      "--label",
      "backup",
      "--priority",
      "5",
      "--catch-up",
      "2",
      "--overlap",
      "queue",
      "--",
      "backup.sh",
      "--full",
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, "nightly\n");
    assert.match(added.stderr, /^Next run \d{4}-\d\d-\d\dT0[12]:00:00\.000Z/);
    assert.match(
      added.stderr,
      /\nNo worker is running for queue "ops": its ticks wait until one starts/,
    );
    const [view] = await cliJson<View[]>(h, ["schedule", "list"]);
    assert.equal(view.name, "nightly");
    assert.equal(view.tz, "Europe/Berlin");
    assert.deepEqual(view.job, {
      command: "backup.sh --full",
      queue: "ops",
      max_retries: 2,
      priority: 5,
      timeout: 600,
      label: "backup",
      env: { TARGET: "s3://bucket", LANG: "C" },
    });
    assert.deepEqual([view.overlap, view.catch_up, view.paused], ["queue", 2, false]);
    const table = await cli(h, ["schedule", "list"]);
    assert.match(
      table.stdout,
      /^nightly\t0 3 \* \* \* \(Europe\/Berlin\)\tactive\tin \S+\t-\tbackup\.sh --full\n$/,
    );

    assert.equal((await cli(h, ["schedule", "pause", "nightly"])).code, 0);
    assert.equal((await cliJson<View>(h, ["schedule", "show", "nightly"])).next_fire_at, null);
    assert.equal((await cli(h, ["schedule", "resume", "nightly"])).code, 0);
    assert.notEqual((await cliJson<View>(h, ["schedule", "show", "nightly"])).next_fire_at, null);

    const run = await cli(h, ["schedule", "run", "nightly"]);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^nightly:run-\d{8}T\d{9}Z$/);
    const [job] = await cliJson<{ id: string; schedule: string; queue: string }[]>(h, ["list"]);
    assert.deepEqual([job.id, job.schedule, job.queue], [id, "nightly", "ops"]);
    const shown = await cli(h, ["schedule", "show", "nightly"]);
    assert.match(shown.stdout, new RegExp(`last_job_id +${id}`));
    assert.match(shown.stdout, /Recent jobs\n/);

    assert.equal((await cli(h, ["schedule", "rm", "nightly"])).code, 0);
    assert.deepEqual(await cliJson(h, ["schedule", "list"]), []);
    assert.equal((await cliJson<unknown[]>(h, ["list"])).length, 1, "fired jobs stay");
  } finally {
    await h.cleanup();
  }
});

Deno.test("schedule add: a bad expression, zone or option exits 2 naming it, and adds nothing", async () => {
  const h = await tempHome();
  try {
    const cases: [string[], RegExp][] = [
      [
        ["bad", "61 * * * *", "--", "true"],
        /^Invalid cron expression "61 \* \* \* \*": minute field "61" is out of range\n$/,
      ],
      [
        ["bad", "* * * *", "--", "true"],
        /^Invalid cron expression "\* \* \* \*": 4 fields; expected 5 fields/,
      ],
      [["bad", "0 0 * * FUNDAY", "--", "true"], /day-of-week field "FUNDAY" is not valid/],
      [
        ["bad", "@daily", "--tz", "Mars/Olympus", "--", "true"],
        /^Invalid --tz "Mars\/Olympus": expected an IANA time zone/,
      ],
      [
        ["bad", "@daily", "--overlap", "never", "--", "true"],
        /^Invalid --overlap "never": expected one of skip, queue, allow\n$/,
      ],
      [
        ["bad", "@daily", "--catch-up", "0", "--", "true"],
        /^Invalid --catch-up "0": expected an integer from 1 to 100\n$/,
      ],
      [["bad:name", "@daily", "--", "true"], /^Invalid schedule name "bad:name"/],
      [
        ["bad", "@daily", "--env", "=x", "--", "true"],
        /^Invalid --env "=x": expected NAME=value\n$/,
      ],
      [
        ["bad", "@daily", "--timeout", "0", "--", "true"],
        /^Invalid --timeout "0": expected more than 0 seconds\n$/,
      ],
      [["bad", "@daily", "--", " "], /^Missing command/],
    ];
    for (const [args, expected] of cases) {
      const r = await cli(h, ["schedule", "add", ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.equal(r.stderr.split("\n").length, 2, "one line");
      assert.equal(r.stdout, "");
    }
    assert.deepEqual(await cliJson(h, ["schedule", "list"]), []);
    assert.equal((await cli(h, ["schedule", "add", "ok", "@daily", "--", "true"])).code, 0);
    const dup = await cli(h, ["schedule", "add", "ok", "@hourly", "--", "false"]);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /^Schedule "ok" already exists \(@daily\)/);
    for (const verb of ["show", "rm", "pause", "resume", "run"]) {
      const r = await cli(h, ["schedule", verb, "missing"]);
      assert.equal(r.code, 2, verb);
      assert.equal(r.stderr, `No schedule named "missing" (see queuectl schedule list)\n`);
    }
  } finally {
    await h.cleanup();
  }
});

interface JobJson {
  id: string;
  state: string;
  schedule?: string;
  created_at: string;
}

/** The tick a fired job's id names (`s:20300101T000000Z`), in ms. */
function tickOf(id: string): number {
  const m = /:(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(id)!;
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

/**
 * Adds an every-second schedule that no tick can be missed or skipped by: catch-up 100 and
 * overlap allow, so however late a loaded machine makes the workers, every tick must end
 * with exactly one job and one fire. `pre` holds global options such as `--db`.
 */
async function addEverySecond(h: TempHome, pre: string[], name: string): Promise<void> {
  const added = await cli(h, [
    ...pre,
    ...["schedule", "add", name, "* * * * * *", "--overlap", "allow", "--catch-up", "100"],
    ...["--", "true"],
  ]);
  assert.equal(added.code, 0, added.stderr);
}

/**
 * Waits until the schedule fired `n` times, pauses it, and checks that each fire made one
 * job and that the jobs' ticks are consecutive seconds (none missed, none twice).
 */
async function firedConsecutively(
  h: TempHome,
  pre: string[],
  name: string,
  n: number,
): Promise<{ jobs: JobJson[]; ticks: number[]; view: { misses: number; skips: number } }> {
  const show = () =>
    cliJson<{ fires: number; misses: number; skips: number }>(h, [
      ...pre,
      ...["schedule", "show", name],
    ]);
  await waitFor(async () => (await show()).fires >= n, { timeoutMs: 60_000, what: `${n} fires` });
  assert.equal((await cli(h, [...pre, "schedule", "pause", name])).code, 0);
  const view = await show();
  const jobs = await cliJson<JobJson[]>(h, [...pre, "list", "--limit", "1000"]);
  const ticks = jobs.map((j) => tickOf(j.id)).sort((x, y) => x - y);
  assert.equal(jobs.length, view.fires, "one job per fire");
  assert.equal(new Set(ticks).size, ticks.length);
  assert.equal(ticks.at(-1)! - ticks[0], (ticks.length - 1) * 1000, "consecutive ticks");
  return { jobs, ticks, view };
}

Deno.test("a worker fires an every-second schedule on the real clock, never before its tick", async () => {
  const h = await tempHome();
  const worker = cliSpawn(h, ["worker", "run", "--log-file", `${h.home}/w.log`]);
  try {
    const added = await cli(h, ["schedule", "add", "sec", "* * * * * *", "--", "echo tick"]);
    assert.equal(added.code, 0, added.stderr);
    await waitFor(async () => {
      const jobs = await cliJson<JobJson[]>(h, ["list"]);
      return jobs.filter((j) => j.state === "completed").length >= 3;
    }, { timeoutMs: 30_000, what: "3 fired jobs to complete" });
    assert.equal((await cli(h, ["schedule", "pause", "sec"])).code, 0);
    const jobs = await cliJson<JobJson[]>(h, ["list"]);
    for (const job of jobs) {
      assert.equal(job.schedule, "sec");
      assert.ok(Date.parse(job.created_at) >= tickOf(job.id), `${job.id} fired before its tick`);
    }
    const view = await cliJson<{ fires: number }>(h, ["schedule", "show", "sec"]);
    assert.equal(view.fires, jobs.length);
    const log = await Deno.readTextFile(`${h.home}/w.log`);
    assert.match(log, /schedule sec fired sec:\d{8}T\d{6}Z for its tick/);
    const out = await cli(h, ["logs", jobs.find((j) => j.state === "completed")!.id]);
    assert.equal(out.stdout, "tick\n");
  } finally {
    await worker.kill();
    await h.cleanup();
  }
});

Deno.test("4 workers on 2 hosts sharing one store fire each of 20 ticks exactly once", async () => {
  const a = await tempHome();
  const b = await tempHome();
  const db = `${a.home}/shared.db`;
  const workers: Spawned[] = [];
  try {
    await addEverySecond(a, ["--db", db], "every");
    for (
      const [home, host] of [[a, "host-a"], [a, "host-a"], [b, "host-b"], [b, "host-b"]] as const
    ) {
      const log = `${home.home}/w${workers.length}.log`;
      workers.push(cliSpawn(home, ["--db", db, "worker", "run", "--log-file", log], {
        env: { QUEUECTL_HOSTNAME: host },
      }));
    }
    const { jobs, ticks, view } = await firedConsecutively(a, ["--db", db], "every", 22);
    assert.deepEqual([view.misses, view.skips], [0, 0]);
    // Each fire was reported by exactly one worker.
    const lines: string[] = [];
    for (const [i, home] of [a, a, b, b].entries()) {
      const text = await Deno.readTextFile(`${home.home}/w${i}.log`).catch(() => "");
      lines.push(...text.split("\n").filter((l) => / schedule every fired /.test(l)));
    }
    const fired = lines.map((l) => / fired (\S+) /.exec(l)![1]).sort();
    assert.deepEqual(fired, jobs.map((j) => j.id).sort());
    const first20 = fired.filter((id) => tickOf(id) < ticks[0] + 20_000);
    assert.equal(first20.length, 20, "20 ticks, 20 fires");
  } finally {
    for (const w of workers) await w.kill();
    await a.cleanup();
    await b.cleanup();
  }
});

Deno.test("fired jobs show in list (--schedule, a SCHEDULE column), show, logs, stats; status counts active schedules", async () => {
  const h = await tempHome();
  try {
    await Deno.mkdir(`${h.home}/sub`);
    const rep = await cli(h, [
      "schedule",
      "add",
      "rep",
      "@daily",
      "--cwd",
      "sub",
      "--env",
      "WHO=cron",
      "--",
      "echo report; pwd; echo $WHO",
    ]);
    assert.equal(rep.code, 0, rep.stderr);
    assert.equal((await cli(h, ["schedule", "add", "off", "@daily", "--", "true"])).code, 0);
    assert.equal((await cli(h, ["schedule", "pause", "off"])).code, 0);
    assert.equal((await cli(h, ["enqueue", "--id", "plain", "true"])).code, 0);
    const id = (await cli(h, ["schedule", "run", "rep"])).stdout.trim();
    const drained = await cli(h, ["worker", "run", "--drain"]);
    assert.equal(drained.code, 0, drained.stderr);

    const status = await cli(h, ["status"]);
    assert.match(status.stdout, /\nSchedules: 1 active, 1 paused \(queuectl schedule list\)\n/);
    const statusJson = await cliJson<{ schedules: unknown }>(h, ["status"]);
    assert.deepEqual(statusJson.schedules, { active: 1, paused: 1 });

    const only = await cliJson<JobJson[]>(h, ["list", "--schedule", "rep"]);
    assert.deepEqual(only.map((j) => [j.id, j.schedule, j.state]), [[id, "rep", "completed"]]);
    const table = await cli(h, ["list"]);
    assert.match(
      table.stdout,
      new RegExp(`^${id}\\tcompleted\\t1/4\\techo report; pwd; echo \\$WHO\\t\\trep\\t`, "m"),
    );
    // Piped, LABEL (empty here) and SCHEDULE are always there: the columns do not move.
    assert.match(table.stdout, /^plain\tcompleted\t1\/4\ttrue\t\t\t/m);
    assert.match((await cli(h, ["show", id])).stdout, /^schedule +rep$/m);
    assert.equal(
      (await cli(h, ["logs", id])).stdout,
      `report\n${h.home}/sub\ncron\n`,
      "runs in --cwd",
    );

    const stats = await cliJson<{ schedules: Record<string, unknown>[] }>(h, ["stats"]);
    assert.deepEqual(stats.schedules, [
      {
        name: "off",
        paused: true,
        fires: 0,
        skips: 0,
        misses: 0,
        last_job_id: null,
        last_job_state: null,
      },
      {
        name: "rep",
        paused: false,
        fires: 1,
        skips: 0,
        misses: 0,
        last_job_id: id,
        last_job_state: "completed",
      },
    ]);
    assert.match(
      (await cli(h, ["stats"])).stdout,
      new RegExp(`\n  rep: 1 fired, 0 skipped, 0 missed; ${id} completed\n`),
    );
  } finally {
    await h.cleanup();
  }
});

Deno.test("2 workers on a KV Connect store fire an every-second schedule once per tick", async () => {
  const server = await startKvServer();
  const local = await tempHome();
  const h = {
    ...local,
    env: { ...local.env, QUEUECTL_DB: server.url, DENO_KV_ACCESS_TOKEN: server.token },
  };
  const workers: Spawned[] = [];
  try {
    await addEverySecond(h, [], "remote");
    for (const host of ["host-a", "host-b"]) {
      workers.push(cliSpawn(h, ["worker", "run"], { env: { QUEUECTL_HOSTNAME: host } }));
    }
    await firedConsecutively(h, [], "remote", 5);
  } finally {
    for (const w of workers) await w.kill();
    await local.cleanup();
    await server.stop();
  }
});
