import assert from "node:assert/strict";
import { spawnDashboard } from "./_fixtures.ts";
import { needs } from "../_helpers/needs.ts";
import {
  cli,
  cliJson,
  cliSpawn,
  pidAlive,
  type Spawned,
  tempHome,
  waitFor,
} from "../_helpers/cli.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOT = new URL("./dashboard.png", import.meta.url).pathname;

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

interface Status {
  counts: Record<string, number>;
  workers: { id: string }[];
}

const STATES = ["pending", "processing", "completed", "failed", "dead", "cancelled"];
const XSS = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;

Deno.test({
  ...needs(
    "dashboard in chromium: counts match status --json, a dead job's detail opens, Retry takes it out of the DLQ",
    hasChromium() ? null : `${CHROMIUM} not found (Debian package chromium)`,
  ),
  async fn() {
    const home = await tempHome();
    const stopFile = `${home.home}/release-blocker`;
    let worker: Spawned | null = null;
    let dash: Awaited<ReturnType<typeof spawnDashboard>> | null = null;
    let context: { close(): Promise<void> } | null = null;
    try {
      const jobs = [
        { id: "build-1", command: "echo building && echo done" },
        { id: "report-7", command: "echo report" },
        { id: "doomed", command: `echo '${XSS}'; echo 'disk full' >&2; exit 3`, max_retries: 0 },
        { id: "nightly", command: "backup.sh --full", delay: 3600 },
      ].map((j) => JSON.stringify(j)).join("\n");
      const enq = await cli(home, ["enqueue", "-"], { stdin: jobs + "\n" });
      assert.equal(enq.code, 0, enq.stderr);
      const drain = await cli(home, ["worker", "run", "--drain"]);
      assert.equal(drain.code, 1, drain.stderr);
      // A job that runs until the test releases it, so a worker shows its current job.
      const block = await cli(home, [
        "enqueue",
        JSON.stringify({
          id: "long-import",
          command: `while [ ! -e '${stopFile}' ]; do sleep 0.1; done; echo released`,
        }),
      ]);
      assert.equal(block.code, 0, block.stderr);
      worker = cliSpawn(home, ["worker", "run", "--drain"]);
      let status: Status = { counts: {}, workers: [] };
      await waitFor(async () => {
        status = await cliJson<Status>(home, ["status"]);
        return status.counts.processing === 1 && status.workers.length === 1;
      }, { timeoutMs: 30_000, intervalMs: 200, what: "the worker to run long-import" });

      const schedule = await cli(home, [
        ...["schedule", "add", "nightly-backup", "0 3 * * *", "--tz", "Europe/Berlin"],
        ...["--", `backup.sh --full; echo '${XSS}'`],
      ]);
      assert.equal(schedule.code, 0, schedule.stderr);
      dash = await spawnDashboard(home, ["--port", "0"]);
      const { chromium } = await import("npm:playwright-core@1.65.1");
      const browser = await chromium.launchPersistentContext(`${home.home}/chromium-profile`, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 800 },
      });
      context = browser;
      const page = await browser.newPage();
      page.setDefaultTimeout(30_000);
      const problems: string[] = [];
      page.on("pageerror", (e: Error) => problems.push(`page error: ${e.message}`));
      page.on("console", (m: { type(): string; text(): string }) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      await page.goto(dash.link);

      // The counts on the page equal `status --json`.
      const pageCounts = () =>
        Promise.all(STATES.map((s) => page.locator(`[data-count="${s}"]`).textContent()));
      const expected = STATES.map((s) => String(status.counts[s]));
      await waitFor(
        async () => JSON.stringify(await pageCounts()) === JSON.stringify(expected),
        { timeoutMs: 30_000, what: `the page counts to equal status --json (${expected})` },
      );
      assert.deepEqual(
        STATES.map((s) => status.counts[s]),
        [1, 1, 2, 0, 1, 0],
        "the workload is as planned",
      );
      // The worker is shown with its current job.
      await page.locator('#workers [data-open="long-import"]').waitFor();
      // Job text is shown as text: the <script> and onerror never ran.
      const dlqRow = page.locator('#dlq tr[data-job-id="doomed"]');
      await dlqRow.waitFor();
      assert.ok((await dlqRow.textContent())!.includes("<script>window.__pwned=1</script>"));
      assert.equal(
        await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
        undefined,
      );
      await page.locator("#chart svg rect.completed").first().waitFor();
      // The schedules table: the cron line in its zone, the next run, the command as text.
      const scheduleRow = page.locator('#schedules tr[data-schedule="nightly-backup"]');
      await scheduleRow.waitFor();
      const scheduleText = (await scheduleRow.textContent())!;
      assert.match(scheduleText, /0 3 \* \* \* \(Europe\/Berlin\)in \d/);
      assert.ok(scheduleText.includes("<script>window.__pwned=1</script>"), scheduleText);
      assert.equal(await page.locator("#schedules-n").textContent(), "(1 active)");

      const shot = `${home.home}/dashboard.png`;
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok((await Deno.stat(shot)).size > 10_000, "the screenshot has content");
      if (Deno.env.get("QUEUECTL_UPDATE_SCREENSHOT") === "1") await Deno.copyFile(shot, SCREENSHOT);

      // Open the dead job: fields, the attempt with exit code, error and output tail.
      await page.locator('#dlq [data-open="doomed"]').click();
      const detail = page.locator("#detail");
      await detail.locator('.attempt[data-attempt="1"]').waitFor();
      const attemptText = (await detail.locator(".attempt").first().textContent())!;
      assert.match(attemptText, /exit code 3/);
      assert.ok(attemptText.includes("disk full"), attemptText);
      assert.ok(attemptText.includes(XSS), "the output tail is shown verbatim");
      await page.screenshot({ path: `${home.home}/detail.png` });

      // Retry: the job leaves the DLQ, on the page and in the store.
      await detail.locator('[data-action="retry"]').click();
      await dlqRow.waitFor({ state: "detached" });
      await waitFor(async () => (await pageCounts())[STATES.indexOf("dead")] === "0", {
        timeoutMs: 30_000,
        what: "the dead count to drop to 0",
      });
      await detail.locator(".badge.pending").waitFor();
      const shown = await cliJson<{ state: string; attempts: number }>(home, ["show", "doomed"]);
      assert.equal(shown.state, "pending");
      assert.equal(shown.attempts, 0);

      // Phone-sized: nothing wider than the screen.
      await page.locator("#detail-close").click();
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth",
      ) as number;
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
      await waitFor(
        async () => Number(await page.locator("#chart svg").getAttribute("width")) <= 390,
        { timeoutMs: 10_000, what: "the chart to be redrawn at phone width" },
      );
      await page.screenshot({ path: `${home.home}/phone.png`, fullPage: true });
      assert.equal(
        await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
        undefined,
      );
      assert.deepEqual(problems, []);
    } finally {
      await context?.close().catch(() => {});
      await Deno.writeTextFile(stopFile, "");
      if (worker) {
        const pid = worker.pid;
        await waitFor(async () => !await pidAlive(pid), {
          timeoutMs: 15_000,
          what: "the worker to drain",
        })
          .catch(() => {});
        await worker.kill();
      }
      await dash?.kill();
      await home.cleanup();
    }
  },
});
