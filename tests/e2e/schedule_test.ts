import assert from "node:assert/strict";
import { cli, cliJson, tempHome } from "../_helpers/cli.ts";

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
      "60",
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
    const [view] = await cliJson<View[]>(h, ["schedule", "list"]);
    assert.equal(view.name, "nightly");
    assert.equal(view.tz, "Europe/Berlin");
    assert.deepEqual(view.job, {
      command: "backup.sh --full",
      queue: "ops",
      max_retries: 2,
      priority: 5,
      timeout: 60,
      label: "backup",
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
