/**
 * The dashboard page: HTML, CSS and script as strings, served by the program itself so
 * the compiled binary carries them (no build step, no asset files). The script builds
 * every element that holds job data with textContent: commands and output are untrusted.
 * @module
 */

/** The page shell: static markup only, no job data. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>queuectl dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>queuectl</h1>
  <span id="live" class="live" role="status">connecting…</span>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main>
  <section aria-labelledby="h-counts">
    <h2 id="h-counts">Jobs by state</h2>
    <div id="counts" class="counts"></div>
  </section>
  <section aria-labelledby="h-chart">
    <h2 id="h-chart">Throughput, last hour</h2>
    <div id="chart" class="chart"></div>
    <p class="legend"><span class="key completed"></span>completed
      <span class="key failed"></span>failed attempts <span class="key dead"></span>dead</p>
  </section>
  <section aria-labelledby="h-workers">
    <h2 id="h-workers">Workers <span id="workers-n" class="muted"></span></h2>
    <div id="workers" class="scroll"></div>
  </section>
  <section aria-labelledby="h-schedules">
    <h2 id="h-schedules">Schedules <span id="schedules-n" class="muted"></span></h2>
    <div id="schedules" class="scroll"></div>
  </section>
  <section aria-labelledby="h-dlq">
    <div class="bar">
      <h2 id="h-dlq">Dead letter queue <span id="dlq-n" class="muted"></span></h2>
      <button id="retry-all" type="button">Retry all</button>
    </div>
    <div id="dlq" class="scroll"></div>
  </section>
  <section aria-labelledby="h-jobs">
    <div class="bar">
      <h2 id="h-jobs">Jobs <span id="jobs-n" class="muted"></span></h2>
      <label>State
        <select id="filter">
          <option value="">all</option>
          <option>pending</option><option>processing</option><option>completed</option>
          <option>failed</option><option>dead</option><option>cancelled</option>
        </select>
      </label>
    </div>
    <div id="jobs" class="scroll"></div>
    <div class="pager">
      <button id="prev" type="button">&larr; Newer</button>
      <span id="page" class="muted"></span>
      <button id="next" type="button">Older &rarr;</button>
    </div>
  </section>
</main>
<dialog id="detail" aria-labelledby="detail-title">
  <div class="bar">
    <h2 id="detail-title">Job</h2>
    <button id="detail-close" type="button" aria-label="Close">Close</button>
  </div>
  <div id="detail-body"></div>
</dialog>
</body>
</html>
`;

/** The stylesheet: readable from phone width up, light and dark. */
export const PAGE_CSS = `
:root {
  --bg: #f6f7f9; --fg: #1d2330; --muted: #667085; --card: #fff; --line: #dde1e7;
  --accent: #2f6fde; --completed: #2e9d5b; --failed: #e19a1c; --dead: #d64545;
  --pending: #5b7bd5; --processing: #8a5cd6; --cancelled: #8a8f98;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  font-size: 15px; color: var(--fg); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171c; --fg: #e6e8eb; --muted: #9aa3af; --card: #1d2128; --line: #323843; }
}
* { box-sizing: border-box; }
body { margin: 0; }
.top { display: flex; align-items: center; justify-content: space-between; gap: 1rem;
  padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.15rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .6rem; }
main { max-width: 1100px; margin: 0 auto; padding: .8rem; display: grid; gap: .8rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .8rem; min-width: 0; }
.muted { color: var(--muted); font-weight: normal; }
.live { font-size: .85rem; color: var(--muted); }
.live.ok::before { content: "● "; color: var(--completed); }
.live.down::before { content: "● "; color: var(--dead); }
.banner { background: var(--dead); color: #fff; padding: .6rem 1rem; }
.bar { display: flex; align-items: center; justify-content: space-between; gap: .6rem;
  flex-wrap: wrap; margin-bottom: .6rem; }
.bar h2 { margin: 0; }
.counts { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: .5rem; }
.count { display: flex; flex-direction: column; align-items: flex-start; gap: .15rem;
  padding: .6rem .7rem; border: 1px solid var(--line); border-left: 4px solid var(--muted);
  border-radius: 6px; background: transparent; color: inherit; font: inherit; cursor: pointer;
  text-align: left; }
.count strong { font-size: 1.5rem; }
.count small { color: var(--muted); min-height: 1em; }
.count.pending { border-left-color: var(--pending); }
.count.processing { border-left-color: var(--processing); }
.count.completed { border-left-color: var(--completed); }
.count.failed { border-left-color: var(--failed); }
.count.dead { border-left-color: var(--dead); }
.count.cancelled { border-left-color: var(--cancelled); }
.chart { min-height: 150px; }
.chart svg { display: block; max-width: 100%; }
.chart .completed { fill: var(--completed); }
.chart .failed { fill: var(--failed); }
.chart .dead { fill: var(--dead); }
.chart .axis { fill: var(--muted); font-size: 11px; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.legend { font-size: .85rem; color: var(--muted); margin: .4rem 0 0; }
.key { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin: 0 .3em 0 .8em;
  vertical-align: -1px; }
.key.completed { background: var(--completed); margin-left: 0; }
.key.failed { background: var(--failed); }
.key.dead { background: var(--dead); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.cmd { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem;
  max-width: 28rem; overflow-wrap: anywhere; }
td.num { white-space: nowrap; }
.empty { color: var(--muted); margin: .2rem 0; }
button { font: inherit; padding: .3rem .7rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: inherit; cursor: pointer; }
button:hover { border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
button.link { border: 0; padding: 0; background: none; color: var(--accent);
  text-decoration: underline; font-family: ui-monospace, Menlo, Consolas, monospace; }
button.danger { color: var(--dead); }
td.actions { white-space: nowrap; }
td.actions button + button { margin-left: .3rem; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 999px; font-size: .8rem;
  color: #fff; background: var(--muted); white-space: nowrap; }
.badge.pending { background: var(--pending); }
.badge.processing { background: var(--processing); }
.badge.completed { background: var(--completed); }
.badge.failed { background: var(--failed); }
.badge.dead { background: var(--dead); }
.badge.cancelled { background: var(--cancelled); }
.pager { display: flex; align-items: center; gap: .6rem; margin-top: .6rem; }
select { font: inherit; padding: .2rem; }
dialog { width: min(900px, 96vw); max-height: 92vh; border: 1px solid var(--line);
  border-radius: 8px; padding: 1rem; background: var(--card); color: var(--fg); }
dialog::backdrop { background: rgba(0, 0, 0, .45); }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .8rem; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .5rem;
  margin: .3rem 0 0; max-height: 16rem; overflow: auto; white-space: pre-wrap;
  overflow-wrap: anywhere; font-size: .82rem; }
#detail-body > h2 { margin-top: 1rem; }
.attempt { border-top: 1px solid var(--line); padding: .5rem 0; }
.attempt h3 { font-size: .92rem; margin: 0; }
.attempt .err { color: var(--dead); margin: .2rem 0 0; }
.actions-row { display: flex; gap: .5rem; margin: .8rem 0; flex-wrap: wrap; }
@media (max-width: 640px) {
  :root { font-size: 14px; }
  main { padding: .5rem; gap: .5rem; }
  section { padding: .6rem; }
  .wide { display: none; }
  td.cmd { max-width: 12rem; }
  .counts { grid-template-columns: repeat(3, 1fr); }
  dl.fields { grid-template-columns: 1fr; }
  dl.fields dt { margin-top: .3rem; }
}
`;

/**
 * The script: polls the API every POLL_MS and redraws. Job data only ever reaches the
 * page through textContent, text nodes or setAttribute (never innerHTML).
 */
export const PAGE_JS = String.raw`"use strict";
(() => {
  const POLL_MS = 1500;
  const STATES = ["pending", "processing", "completed", "failed", "dead", "cancelled"];
  const FINAL = ["completed", "dead", "cancelled"];
  const view = { filter: "", cursors: [null], page: 0, detailId: null, detailSig: "",
    skew: 0, timer: 0, lastJobs: null, lastThroughput: null };
  const $ = (id) => document.getElementById(id);
  const token = readToken();

  function readToken() {
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      const t = decodeURIComponent(m[1]);
      try { sessionStorage.setItem("queuectl-token", t); } catch (_) { /* private mode */ }
      history.replaceState(null, "", location.pathname + location.search);
      return t;
    }
    try { return sessionStorage.getItem("queuectl-token"); } catch (_) { return null; }
  }

  async function api(method, path, payload) {
    const headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    const init = { method, headers, cache: "no-store" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(path, init);
    let body = {};
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      const error = new Error(body.error || ("HTTP " + res.status));
      error.status = res.status;
      throw error;
    }
    return body;
  }

  /** Builds an element; text goes in as textContent, never as markup. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "class") node.className = v;
      else if (k === "onclick") node.addEventListener("click", v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children || []) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const serverNow = () => Date.now() + view.skew;

  function duration(ms) {
    if (ms < 1000) return Math.round(ms) + "ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
  }

  function ago(iso) {
    if (!iso) return "-";
    const diff = Date.parse(iso) - serverNow();
    return diff >= 0 ? "in " + duration(diff) : duration(-diff) + " ago";
  }

  function oneLine(text, max) {
    const line = String(text || "").replace(/\s*\n\s*/g, " \u23ce ");
    return line.length <= max ? line : line.slice(0, max - 1) + "\u2026";
  }

  const badge = (state) => el("span", { class: "badge " + state, text: state });

  function table(head, rows, empty) {
    if (rows.length === 0) return el("p", { class: "empty", text: empty });
    const cells = head.map((h) => el("th", { class: h.wide ? "wide" : null, text: h.label }));
    return el("table", {}, [el("thead", {}, [el("tr", {}, cells)]), el("tbody", {}, rows)]);
  }

  function openButton(id) {
    return el("button", { type: "button", class: "link", "data-open": id, text: id,
      onclick: () => openDetail(id) });
  }

  function showBanner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  function renderCounts(counts) {
    const box = $("counts");
    box.replaceChildren(...STATES.map((s) => {
      const note = s === "pending" && counts.scheduled > 0 ? counts.scheduled + " scheduled"
        : s === "dead" ? "in the DLQ" : "";
      return el("button", { type: "button", class: "count " + s, "data-state": s,
        title: "Show " + s + " jobs", onclick: () => setFilter(s) }, [
        el("span", { text: s }),
        el("strong", { "data-count": s, text: counts[s] }),
        el("small", { text: note }),
      ]);
    }));
  }

  function renderChart(throughput) {
    view.lastThroughput = throughput;
    const minutes = throughput.minutes;
    const W = Math.max(240, Math.round($("chart").clientWidth) || 600);
    const H = 150, top = 12, bottom = 20, left = 28;
    const plotH = H - top - bottom, plotW = W - left;
    const max = Math.max(1, ...minutes.map((m) => m.completed + m.failed + m.dead));
    const bw = plotW / Math.max(1, minutes.length);
    const y = (v) => top + plotH - (v / max) * plotH;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H,
      role: "img" });
    let done = 0, failed = 0, dead = 0;
    for (const m of minutes) { done += m.completed; failed += m.failed; dead += m.dead; }
    root.append(svg("title", {}, "Last hour: " + done + " completed, " + failed +
      " failed attempts, " + dead + " dead"));
    root.append(svg("line", { class: "grid", x1: left, x2: W, y1: y(max), y2: y(max) }));
    root.append(svg("line", { class: "grid", x1: left, x2: W, y1: y(0), y2: y(0) }));
    root.append(svg("text", { class: "axis", x: 0, y: y(max) + 4 }, String(max)));
    root.append(svg("text", { class: "axis", x: 0, y: y(0) + 4 }, "0"));
    minutes.forEach((m, i) => {
      const g = svg("g", {});
      const at = new Date(m.minute);
      g.append(svg("title", {}, at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) +
        ": " + m.completed + " completed, " + m.failed + " failed, " + m.dead + " dead"));
      let base = 0;
      for (const kind of ["completed", "failed", "dead"]) {
        const v = m[kind];
        if (v > 0) {
          g.append(svg("rect", { class: kind, x: left + i * bw + 0.5, width: Math.max(1, bw - 1),
            y: y(base + v), height: y(base) - y(base + v) }));
        }
        base += v;
      }
      g.append(svg("rect", { x: left + i * bw, y: top, width: bw, height: plotH,
        fill: "transparent" }));
      root.append(g);
    });
    const labels = [[0, "-60m"], [Math.floor(minutes.length / 2), "-30m"],
      [minutes.length - 1, "now"]];
    for (const [i, label] of labels) {
      root.append(svg("text", { class: "axis", x: Math.min(W - 22, left + i * bw),
        y: H - 5 }, label));
    }
    $("chart").replaceChildren(root);
  }

  function renderWorkers(workers) {
    $("workers-n").textContent = "(" + workers.length + ")";
    const rows = [];
    for (const w of workers) {
      const jobs = w.jobs.length ? w.jobs : [null];
      for (const j of jobs) {
        rows.push(el("tr", { "data-worker-id": w.id }, [
          el("td", { text: w.id }),
          el("td", { class: "wide", text: w.host + " (pid " + w.pid + ")" }),
          el("td", {}, [j ? openButton(j.id) : el("span", { class: "muted", text: "idle" })]),
          el("td", { class: "cmd", text: j ? oneLine(j.command, 80) : "" }),
          el("td", { class: "num", text: j && j.started_at
            ? duration(serverNow() - Date.parse(j.started_at)) : "" }),
        ]));
      }
    }
    $("workers").replaceChildren(table([{ label: "Worker" }, { label: "Host", wide: true },
      { label: "Job" }, { label: "Command" }, { label: "Running for" }], rows,
      "No workers running. Start some with: queuectl worker start"));
  }

  function renderSchedules(schedules) {
    const active = schedules.filter((s) => !s.paused).length;
    $("schedules-n").textContent = "(" + active + " active" +
      (schedules.length > active ? ", " + (schedules.length - active) + " paused" : "") + ")";
    const rows = schedules.map((s) => el("tr", { "data-schedule": s.name }, [
      el("td", { text: s.name }),
      el("td", { text: s.cron + (s.tz === "UTC" ? "" : " (" + s.tz + ")") }),
      el("td", { text: s.paused ? "paused" : ago(s.next_fire_at) }),
      el("td", {}, s.last_job_id
        ? [openButton(s.last_job_id), " ", s.last_job_state ? badge(s.last_job_state)
          : el("span", { class: "muted", text: "purged" })]
        : [el("span", { class: "muted", text: "-" })]),
      el("td", { class: "num wide", text: s.fires + " / " + s.skips + " / " + s.misses }),
      el("td", { class: "cmd", text: oneLine(s.job.command, 80) }),
    ]));
    $("schedules").replaceChildren(table([{ label: "Name" }, { label: "Cron" },
      { label: "Next" }, { label: "Last run" }, { label: "Fired / skipped / missed", wide: true },
      { label: "Command" }], rows,
      "No schedules. Add one with: queuectl schedule add <name> '<cron>' -- <command>"));
  }

  function actionButtons(job) {
    const out = [];
    if (job.state === "pending" || job.state === "failed") {
      out.push(el("button", { type: "button", "data-action": "edit", text: "Edit",
        onclick: () => {
          const command = prompt("Command of job " + job.id, job.command);
          if (command !== null && command !== job.command) {
            act("Edit", job.id, () => api("PATCH", "/api/jobs/" + encodeURIComponent(job.id),
              { command }));
          }
        } }));
    }
    if (FINAL.includes(job.state)) {
      out.push(el("button", { type: "button", "data-action": "retry", text: "Retry",
        onclick: () => act("Retry", job.id, () => api("POST", "/api/jobs/" +
          encodeURIComponent(job.id) + "/retry")) }));
    }
    if (FINAL.includes(job.state)) {
      out.push(el("button", { type: "button", class: "danger", "data-action": "remove",
        text: "Remove", onclick: () => {
          if (confirm("Remove job " + job.id + " with its attempts and logs?")) {
            act("Remove", job.id, () => api("DELETE", "/api/jobs/" + encodeURIComponent(job.id)));
          }
        } }));
    }
    return out;
  }

  async function act(what, id, call) {
    try {
      await call();
      showBanner("");
    } catch (e) {
      showBanner(what + " " + id + " failed: " + e.message);
    }
    refreshSoon(0);
  }

  function renderDlq(page) {
    $("dlq-n").textContent = "(" + page.total + ")";
    $("retry-all").disabled = page.total === 0;
    const rows = page.jobs.map((j) => el("tr", { "data-job-id": j.id }, [
      el("td", {}, [openButton(j.id)]),
      el("td", { class: "cmd", text: oneLine(j.command, 80) }),
      el("td", { class: "wide", text: oneLine(j.last_error, 60) }),
      el("td", { class: "num wide", text: ago(j.finished_at || j.updated_at) }),
      el("td", { class: "actions" }, actionButtons(j)),
    ]));
    const more = page.total > page.jobs.length
      ? el("p", { class: "muted", text: "Showing the newest " + page.jobs.length + " of " +
        page.total + "; filter Jobs by dead to page through all." })
      : null;
    $("dlq").replaceChildren(table([{ label: "ID" }, { label: "Command" },
      { label: "Error", wide: true }, { label: "Died", wide: true }, { label: "" }], rows,
      "The DLQ is empty."), ...(more ? [more] : []));
  }

  function renderJobs(page) {
    view.lastJobs = page;
    $("jobs-n").textContent = "(" + page.total + ")";
    const rows = page.jobs.map((j) => el("tr", { "data-job-id": j.id }, [
      el("td", {}, [openButton(j.id)]),
      el("td", {}, [badge(j.state)]),
      el("td", { class: "num wide", text: j.attempts + "/" + (j.max_retries + 1) }),
      el("td", { class: "cmd", text: oneLine(j.command, 80) }),
      el("td", { class: "num", text: ago(j.updated_at) }),
    ]));
    $("jobs").replaceChildren(table([{ label: "ID" }, { label: "State" },
      { label: "Runs", wide: true }, { label: "Command" }, { label: "Updated" }], rows,
      view.filter ? "No " + view.filter + " jobs." : "No jobs yet."));
    $("prev").disabled = view.page === 0;
    $("next").disabled = !page.next_cursor;
    $("page").textContent = "page " + (view.page + 1);
  }

  function field(label, value, pre) {
    return [el("dt", { text: label }),
      el("dd", {}, [pre ? el("pre", { text: value }) : String(value)])];
  }

  function renderDetail(job) {
    const sig = job.updated_at + "/" + job.history.length;
    if (sig === view.detailSig) return;
    view.detailSig = sig;
    $("detail-title").replaceChildren("Job ", el("code", { text: job.id }), " ", badge(job.state));
    const fields = el("dl", { class: "fields" }, [
      ...field("command", job.command, true),
      ...field("attempts", job.attempts + " of at most " + (job.max_retries + 1)),
      ...field("queue / priority", job.queue + " / " + job.priority),
      ...(job.schedule ? field("schedule", job.schedule) : []),
      ...field("timeout", job.timeout === null ? "none" : job.timeout + "s"),
      ...field("cwd", job.cwd),
      ...field("created", job.created_at + " (" + ago(job.created_at) + ")"),
      ...field("updated", job.updated_at + " (" + ago(job.updated_at) + ")"),
      ...field("next run", job.next_run_at ? job.next_run_at + " (" + ago(job.next_run_at) + ")"
        : "-"),
      ...field("worker", job.worker_id || "-"),
      ...field("exit code", job.exit_code === null ? "-" : job.exit_code),
      ...field("last error", job.last_error || "-"),
    ]);
    const attempts = job.history.slice().reverse().map((a) => {
      const outcome = a.outcome.kind === "exited" ? "exit code " + a.outcome.code : a.outcome.kind;
      return el("div", { class: "attempt", "data-attempt": a.attempt }, [
        el("h3", { text: "Attempt " + a.attempt + " \u00b7 " + outcome + " \u00b7 " +
          duration(a.duration_ms) + " \u00b7 started " + a.started_at }),
        el("div", { class: "muted", text: "exit code " + (a.exit_code === null ? "-" : a.exit_code) +
          ", worker " + (a.worker_id || "-") + (a.host ? " on " + a.host : "") }),
        a.error ? el("p", { class: "err", text: a.error }) : null,
        el("pre", { class: "tail", text: a.output_tail || "(no output)" }),
      ]);
    });
    $("detail-body").replaceChildren(
      el("div", { class: "actions-row" }, actionButtons(job)),
      fields,
      el("h2", { text: "Attempts (" + job.history.length + ")" }),
      ...(attempts.length ? attempts : [el("p", { class: "empty", text: "Not run yet." })]),
    );
  }

  async function loadDetail() {
    const id = view.detailId;
    if (!id) return;
    try {
      renderDetail(await api("GET", "/api/jobs/" + encodeURIComponent(id)));
    } catch (e) {
      if (e.status !== 404) throw e;
      view.detailSig = "";
      $("detail-body").replaceChildren(el("p", { class: "empty", text: e.message }));
    }
  }

  function openDetail(id) {
    view.detailId = id;
    view.detailSig = "";
    $("detail-title").textContent = "Job " + id;
    $("detail-body").replaceChildren(el("p", { class: "muted", text: "Loading\u2026" }));
    const d = $("detail");
    if (!d.open) d.showModal();
    loadDetail().catch((e) => showBanner(e.message));
  }

  function setFilter(state) {
    view.filter = state;
    $("filter").value = state;
    view.cursors = [null];
    view.page = 0;
    refreshSoon(0);
  }

  function jobsPath() {
    const q = new URLSearchParams({ limit: "25" });
    if (view.filter) q.set("state", view.filter);
    const cursor = view.cursors[view.page];
    if (cursor) q.set("cursor", cursor);
    return "/api/jobs?" + q;
  }

  let running = false, again = false;
  async function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    try {
      const [status, dlq, jobs, schedules] = await Promise.all([
        api("GET", "/api/status"),
        api("GET", "/api/jobs?state=dead&limit=50"),
        api("GET", jobsPath()),
        api("GET", "/api/schedules"),
      ]);
      view.skew = Date.parse(status.now) - Date.now();
      renderCounts(status.counts);
      renderChart(status.throughput);
      renderWorkers(status.workers);
      renderSchedules(schedules.schedules);
      renderDlq(dlq);
      renderJobs(jobs);
      await loadDetail();
      showBanner("");
      $("live").className = "live ok";
      $("live").textContent = "live \u00b7 " + new Date().toLocaleTimeString();
    } catch (e) {
      $("live").className = "live down";
      $("live").textContent = "disconnected";
      showBanner(e.status === 401
        ? "This dashboard needs its token: open the URL that queuectl dashboard printed."
        : "Cannot refresh: " + e.message);
    } finally {
      running = false;
      refreshSoon(again ? 0 : POLL_MS);
    }
  }

  function refreshSoon(ms) {
    clearTimeout(view.timer);
    view.timer = setTimeout(refresh, ms);
  }

  $("filter").addEventListener("change", (e) => setFilter(e.target.value));
  $("prev").addEventListener("click", () => {
    if (view.page > 0) { view.page--; refreshSoon(0); }
  });
  $("next").addEventListener("click", () => {
    const next = view.lastJobs && view.lastJobs.next_cursor;
    if (!next) return;
    view.cursors[view.page + 1] = next;
    view.page++;
    refreshSoon(0);
  });
  $("retry-all").addEventListener("click", () => {
    if (confirm("Retry every job in the DLQ?")) {
      act("Retry all", "", () => api("POST", "/api/dlq/retry-all"));
    }
  });
  $("detail-close").addEventListener("click", () => $("detail").close());
  $("detail").addEventListener("close", () => { view.detailId = null; view.detailSig = ""; });
  let resizing = 0;
  addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => view.lastThroughput && renderChart(view.lastThroughput), 100);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshSoon(0);
  });
  refresh();
})();
`;
