import assert from "node:assert/strict";
import { JOB_STATES } from "../../lib/job.ts";
import { attemptList, jobGet } from "../../lib/store/jobs.ts";
import { dashboardServe } from "../../lib/dashboard/server.ts";
import { addJob, runJob, spawnDashboard, withDashboard } from "./_fixtures.ts";
import { cli, cliJson, tempHome } from "../_helpers/cli.ts";

interface JobsBody {
  jobs: { id: string; state: string; command: string }[];
  next_cursor: string | null;
  total: number;
}

Deno.test("GET /api/status has the counts and workers of status --json, and an hour of chart minutes", async () => {
  await withDashboard(async ({ home, kv, call }) => {
    await addJob(kv, { id: "a", command: "true" });
    await addJob(kv, { id: "b", command: "true" });
    await runJob(kv, "b", { code: 0 });
    await addJob(kv, { id: "c", command: "exit 3", max_retries: 0 });
    await runJob(kv, "c", { code: 3 });
    await addJob(kv, { id: "later", command: "true", delay: 3600 });
    const res = await call("GET", "/api/status");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const body = res.body as {
      counts: Record<string, number>;
      workers: unknown[];
      now: string;
      throughput: { minutes: { minute: string; completed: number; dead: number }[] };
    };
    const cliStatus = await cliJson<{ counts: Record<string, number>; workers: unknown[] }>(
      home,
      ["status"],
    );
    assert.deepEqual(body.counts, cliStatus.counts);
    assert.deepEqual(body.counts, {
      pending: 2,
      processing: 0,
      completed: 1,
      failed: 0,
      dead: 1,
      cancelled: 0,
      scheduled: 1,
      blocked: 0,
      crashed: 0,
    });
    assert.deepEqual(body.workers, []);
    assert.ok(!Number.isNaN(Date.parse(body.now)));
    const minutes = body.throughput.minutes;
    assert.ok(minutes.length >= 60 && minutes.length <= 61, `${minutes.length} minutes`);
    assert.equal(minutes.reduce((n, m) => n + m.completed, 0), 1);
    assert.equal(minutes.reduce((n, m) => n + m.dead, 0), 1);
  });
});

Deno.test("GET /api/jobs pages newest first with next_cursor, each job once, also per state", async () => {
  await withDashboard(async ({ kv, call }) => {
    const ids = ["j1", "j2", "j3", "j4", "j5", "j6", "j7"];
    for (const id of ids) await addJob(kv, { id, command: `echo ${id}` });
    for (const id of ["j2", "j5", "j6"]) await runJob(kv, id, { code: 0 });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const res = await call("GET", `/api/jobs?limit=3${q}`);
      assert.equal(res.status, 200, res.text);
      const body = res.body as JobsBody;
      assert.equal(body.total, 7);
      seen.push(...body.jobs.map((j) => j.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse());

    const first = (await call("GET", "/api/jobs?state=completed&limit=2")).body as JobsBody;
    assert.deepEqual(first.jobs.map((j) => j.id), ["j6", "j5"]);
    assert.equal(first.total, 3);
    assert.ok(first.next_cursor);
    const second = (await call(
      "GET",
      `/api/jobs?state=completed&limit=2&cursor=${encodeURIComponent(first.next_cursor!)}`,
    )).body as JobsBody;
    assert.deepEqual(second.jobs.map((j) => j.id), ["j2"]);
    assert.equal(second.next_cursor, null);
    const all = (await call("GET", "/api/jobs?state=all")).body as JobsBody;
    assert.equal(all.jobs.length, 7);
  });
});

Deno.test("GET /api/jobs answers 400 with a clear message for a bad state, limit or cursor", async () => {
  await withDashboard(async ({ call }) => {
    const cases: [string, RegExp][] = [
      ["/api/jobs?state=zombie", /^Unknown state "zombie": expected one of pending, /],
      ["/api/jobs?limit=0", /^Invalid limit "0": expected an integer from 1 to 500$/],
      ["/api/jobs?limit=abc", /^Invalid limit "abc"/],
      ["/api/jobs?limit=501", /^Invalid limit "501"/],
      ["/api/jobs?cursor=nonsense", /^Invalid cursor "nonsense": expected the next_cursor/],
      ["/api/jobs?cursor=12-bad%20id", /^Invalid cursor "12-bad id"/],
    ];
    for (const [path, message] of cases) {
      const res = await call("GET", path);
      assert.equal(res.status, 400, path);
      assert.match((res.body as { error: string }).error, message, path);
    }
  });
});

Deno.test("GET /api/jobs/:id returns the job with every attempt; unknown ids are 404, bad ids 400", async () => {
  await withDashboard(async ({ kv, call }) => {
    await addJob(kv, { id: "flaky", command: "exit 1", max_retries: 1 });
    await runJob(kv, "flaky", { code: 1, output: "first try\n" });
    const res = await call("GET", "/api/jobs/flaky");
    assert.equal(res.status, 200);
    const job = res.body as {
      id: string;
      state: string;
      history: { attempt: number; exit_code: number; output_tail: string }[];
    };
    assert.equal(job.id, "flaky");
    assert.equal(job.state, "failed");
    assert.equal(job.history.length, 1);
    assert.equal(job.history[0].exit_code, 1);
    assert.equal(job.history[0].output_tail, "first try\n");

    const missing = await call("GET", "/api/jobs/nope");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: 'No job with id "nope"' });
    const bad = await call("GET", "/api/jobs/bad%20id");
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: string }).error, /^Invalid job id "bad id"/);
  });
});

Deno.test("POST /api/jobs/:id/retry puts a dead or completed job back to pending; a waiting one gets 409", async () => {
  await withDashboard(async ({ kv, call }) => {
    await addJob(kv, { id: "dead1", command: "exit 2", max_retries: 0 });
    await runJob(kv, "dead1", { code: 2 });
    await addJob(kv, { id: "done1", command: "true" });
    await runJob(kv, "done1", { code: 0 });
    await addJob(kv, { id: "wait1", command: "true" });
    const res = await call("POST", "/api/jobs/dead1/retry");
    assert.equal(res.status, 200, res.text);
    assert.equal((res.body as { job: { state: string } }).job.state, "pending");
    const stored = await jobGet(kv, "dead1");
    assert.equal(stored?.job.state, "pending");
    assert.equal(stored?.job.attempts, 0);
    assert.equal(stored?.job.last_error, null);
    const dlq = (await call("GET", "/api/jobs?state=dead")).body as JobsBody;
    assert.equal(dlq.total, 0);

    const done = await call("POST", "/api/jobs/done1/retry");
    assert.equal(done.status, 200, done.text);
    assert.equal((await jobGet(kv, "done1"))?.job.state, "pending");
    assert.equal((await attemptList(kv, "done1")).length, 1, "the earlier run is kept");

    const again = await call("POST", "/api/jobs/wait1/retry");
    assert.equal(again.status, 409);
    assert.deepEqual(again.body, {
      error: 'Job "wait1" is pending: only completed, dead or cancelled jobs can run again',
    });
    assert.equal((await call("POST", "/api/jobs/ghost/retry")).status, 404);
  });
});

Deno.test("PATCH /api/jobs/:id edits a waiting job; a bad field is 400, a finished job 409", async () => {
  await withDashboard(async ({ kv, dashboard }) => {
    await addJob(kv, { id: "w1", command: "echo old" });
    await addJob(kv, { id: "d1", command: "true" });
    await runJob(kv, "d1", { code: 0 });
    const patch = async (id: string, body: string) => {
      const res = await fetch(new URL(`/api/jobs/${id}`, dashboard.url), {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body,
      });
      return { status: res.status, body: await res.json() };
    };
    const ok = await patch("w1", JSON.stringify({ command: "echo new", priority: 7 }));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const stored = (await jobGet(kv, "w1"))!.job;
    assert.equal(stored.command, "echo new");
    assert.equal(stored.priority, 7);
    const bad = await patch("w1", JSON.stringify({ prio: 1 }));
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /unknown field "prio"; expected command, priority, run_at/);
    assert.equal((await patch("w1", "{oops")).status, 400);
    assert.equal((await patch("d1", JSON.stringify({ priority: 1 }))).status, 409);
    assert.equal((await jobGet(kv, "w1"))!.job.priority, 7, "unchanged by refused edits");
  });
});

Deno.test("DELETE /api/jobs/:id removes a dead job with its attempts and logs; a waiting job gets 409", async () => {
  await withDashboard(async ({ kv, paths, call }) => {
    await addJob(kv, { id: "gone", command: "exit 2", max_retries: 0 });
    await runJob(kv, "gone", { code: 2 });
    await Deno.mkdir(`${paths.logDir}/gone`, { recursive: true });
    await Deno.writeTextFile(`${paths.logDir}/gone/1.out`, "x");
    await addJob(kv, { id: "waiting", command: "true" });
    const res = await call("DELETE", "/api/jobs/gone");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { id: "gone", removed: true });
    assert.equal(await jobGet(kv, "gone"), null);
    assert.deepEqual(await attemptList(kv, "gone"), []);
    await assert.rejects(Deno.stat(`${paths.logDir}/gone`), Deno.errors.NotFound);
    assert.equal((await call("GET", "/api/jobs/gone")).status, 404);
    const counts = (await call("GET", "/api/status")).body as { counts: { dead: number } };
    assert.equal(counts.counts.dead, 0);

    const refused = await call("DELETE", "/api/jobs/waiting");
    assert.equal(refused.status, 409);
    assert.match((refused.body as { error: string }).error, /^Job "waiting" is pending: only /);
    assert.ok(await jobGet(kv, "waiting"));
  });
});

Deno.test("POST /api/dlq/retry-all retries every dead job and nothing else", async () => {
  await withDashboard(async ({ kv, call }) => {
    for (const id of ["d1", "d2", "d3"]) {
      await addJob(kv, { id, command: "exit 1", max_retries: 0 });
      await runJob(kv, id, { code: 1 });
    }
    await addJob(kv, { id: "ok", command: "true" });
    await runJob(kv, "ok", { code: 0 });
    const res = await call("POST", "/api/dlq/retry-all");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([...(res.body as { retried: string[] }).retried].sort(), ["d1", "d2", "d3"]);
    const status = (await call("GET", "/api/status")).body as { counts: Record<string, number> };
    assert.equal(status.counts.dead, 0);
    assert.equal(status.counts.pending, 3);
    assert.equal(status.counts.completed, 1);
    const empty = await call("POST", "/api/dlq/retry-all");
    assert.deepEqual(empty.body, { retried: [] });
  });
});

Deno.test("mutations from another origin are refused with 403; same-origin and scripts pass", async () => {
  await withDashboard(async ({ kv, dashboard, call }) => {
    for (const id of ["x1", "x2", "x3"]) {
      await addJob(kv, { id, command: "exit 1", max_retries: 0 });
      await runJob(kv, id, { code: 1 });
    }
    const evil = await call("POST", "/api/jobs/x1/retry", { origin: "http://evil.example" });
    assert.equal(evil.status, 403);
    assert.equal(
      (evil.body as { error: string }).error,
      `Cross-origin request refused: Origin "http://evil.example" is not ${
        dashboard.url.slice(0, -1)
      }`,
    );
    const nullOrigin = await call("DELETE", "/api/jobs/x1", { origin: "null" });
    assert.equal(nullOrigin.status, 403);
    const site = await call("POST", "/api/dlq/retry-all", { "sec-fetch-site": "cross-site" });
    assert.equal(site.status, 403);
    assert.match((site.body as { error: string }).error, /Sec-Fetch-Site is "cross-site"/);
    const sameSite = await call("POST", "/api/dlq/retry-all", { "sec-fetch-site": "same-site" });
    assert.equal(sameSite.status, 403);
    assert.equal((await jobGet(kv, "x1"))?.job.state, "dead", "refused requests change nothing");

    const own = await call("POST", "/api/jobs/x1/retry", {
      origin: dashboard.url.slice(0, -1),
      "sec-fetch-site": "same-origin",
    });
    assert.equal(own.status, 200, own.text);
    const script = await call("POST", "/api/jobs/x2/retry");
    assert.equal(script.status, 200, "no Origin and no Sec-Fetch-Site: a script, allowed");
    // Reads stay open to other origins' requests but the browser cannot read them (no CORS).
    const read = await call("GET", "/api/status", { origin: "http://evil.example" });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("access-control-allow-origin"), null);
  });
});

Deno.test("a loopback dashboard refuses requests with a foreign Host header (DNS rebinding)", async () => {
  await withDashboard(async ({ dashboard }) => {
    // fetch() sets Host from the URL, so speak HTTP/1.1 directly.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: dashboard.port });
    try {
      const request = `GET /api/status HTTP/1.1\r\nHost: rebind.example:${dashboard.port}\r\n` +
        "Connection: close\r\n\r\n";
      await conn.write(new TextEncoder().encode(request));
      let text = "";
      const buf = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      assert.match(text, /^HTTP\/1\.1 403/);
      assert.match(text, /Unexpected Host \\"rebind\.example:\d+\\"/);
    } finally {
      conn.close();
    }
  });
});

Deno.test("with a token, the API and /metrics need it (401 otherwise) and the page still loads", async () => {
  const token = "s3cret-token-123";
  await withDashboard(async ({ kv, call }) => {
    await addJob(kv, { id: "t1", command: "exit 1", max_retries: 0 });
    await runJob(kv, "t1", { code: 1 });
    for (const path of ["/api/status", "/api/jobs", "/api/jobs/t1", "/metrics"]) {
      const res = await call("GET", path);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="queuectl"');
    }
    const none = await call("POST", "/api/jobs/t1/retry");
    assert.equal(none.status, 401);
    assert.match((none.body as { error: string }).error, /^Missing token: send Authorization/);
    const wrong = await call("POST", "/api/jobs/t1/retry", { authorization: "Bearer nope" });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: "Wrong token" });
    assert.equal((await jobGet(kv, "t1"))?.job.state, "dead");

    assert.equal((await call("GET", "/")).status, 200, "the page holds no data");
    const bearer = await call("GET", "/api/status", { authorization: `Bearer ${token}` });
    assert.equal(bearer.status, 200);
    const metrics = await call("GET", "/metrics", { "x-queuectl-token": token });
    assert.equal(metrics.status, 200);
    const retry = await call("POST", "/api/jobs/t1/retry", { "x-queuectl-token": token });
    assert.equal(retry.status, 200, retry.text);
  }, { token });
});

Deno.test("a wrong method is a 405 naming the allowed ones; an unknown path is a 404", async () => {
  await withDashboard(async ({ call }) => {
    const res = await call("POST", "/api/status");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
    assert.deepEqual(res.body, {
      error: "Method POST is not allowed on /api/status: use GET or HEAD",
    });
    const del = await call("GET", "/api/dlq/retry-all");
    assert.equal(del.status, 405);
    assert.equal(del.headers.get("allow"), "POST");
    const put = await call("PUT", "/api/jobs/x");
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, DELETE, PATCH, HEAD");
    const missing = await call("GET", "/api/nothing");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "No such endpoint: /api/nothing" });
    const head = await call("HEAD", "/api/status");
    assert.equal(head.status, 200);
    assert.equal(head.text, "");
  });
});

Deno.test("a <script> in a command comes back as a JSON string; the page carries no job data and a strict CSP", async () => {
  const evil = `echo "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"`;
  await withDashboard(async ({ kv, call }) => {
    await addJob(kv, { id: "xss", command: evil });
    const res = await call("GET", "/api/jobs/xss");
    assert.match(res.headers.get("content-type") ?? "", /^application\/json; charset=utf-8$/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal((res.body as { command: string }).command, evil);
    const page = await call("GET", "/");
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.ok(!page.text.includes("__pwned"), "the page is static: no job data in it");
    const script = await call("GET", "/app.js");
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.ok(!script.text.includes("innerHTML"), "the script never parses markup");
    assert.ok(!script.text.includes("insertAdjacentHTML"));
  });
});

Deno.test("dashboardServe refuses a non-loopback address without a token", async () => {
  const home = await tempHome();
  try {
    assert.throws(
      () =>
        dashboardServe({
          kv: null as unknown as Deno.Kv,
          paths: { dataDir: home.home, dbPath: `${home.home}/q.db`, logDir: home.home },
          hostname: "h",
          host: "0.0.0.0",
          port: 0,
          token: null,
        }),
      /A token is required to listen on "0\.0\.0\.0"/,
    );
  } finally {
    await home.cleanup();
  }
});

Deno.test("queuectl dashboard --port 0 prints its URL and serves the API until killed", async () => {
  const home = await tempHome();
  let proc: Awaited<ReturnType<typeof spawnDashboard>> | null = null;
  try {
    const enq = await cli(home, ["enqueue", '{"id":"one","command":"true"}']);
    assert.equal(enq.code, 0, enq.stderr);
    proc = await spawnDashboard(home, ["--port", "0"]);
    assert.match(proc.link, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(`${proc.link}api/status`);
    const body = await res.json() as { counts: Record<string, number> };
    assert.equal(res.status, 200);
    for (const s of JOB_STATES) assert.equal(typeof body.counts[s], "number");
    assert.equal(body.counts.pending, 1);
  } finally {
    await proc?.kill();
    await home.cleanup();
  }
});

Deno.test("queuectl dashboard off loopback generates a token, prints it, and requires it", async () => {
  const home = await tempHome();
  let proc: Awaited<ReturnType<typeof spawnDashboard>> | null = null;
  try {
    proc = await spawnDashboard(home, ["--host", "0.0.0.0", "--port", "0"], {
      net: "0.0.0.0,127.0.0.1",
    });
    const m = /^http:\/\/0\.0\.0\.0:(\d+)\/#token=([A-Za-z0-9_=-]{32})$/.exec(proc.link);
    assert.ok(m, `printed ${proc.link}`);
    const [, port, token] = m;
    const base = `http://127.0.0.1:${port}`;
    const anonymous = await fetch(`${base}/api/status`);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401);
    const allowed = await fetch(`${base}/api/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await allowed.body?.cancel();
    assert.equal(allowed.status, 200);
  } finally {
    await proc?.kill();
    await home.cleanup();
  }
});

Deno.test("queuectl dashboard rejects a bad --port as a usage error (exit 2)", async () => {
  const home = await tempHome();
  try {
    const res = await cli(home, ["dashboard", "--port", "99999"]);
    assert.equal(res.code, 2);
    assert.equal(res.stderr.trim(), 'Invalid --port "99999": expected an integer from 0 to 65535');
  } finally {
    await home.cleanup();
  }
});
