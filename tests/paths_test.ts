import assert from "node:assert/strict";
import {
  attemptLogPath,
  dataDir,
  dirname,
  jobLogDir,
  resolvePaths,
  wakeDir,
  wakeSocketPath,
} from "../lib/paths.ts";

Deno.test("dataDir() prefers QUEUECTL_HOME, then XDG_DATA_HOME, then HOME", () => {
  const all = { QUEUECTL_HOME: "/q", XDG_DATA_HOME: "/xdg", HOME: "/home/u" };
  assert.equal(dataDir(all), "/q");
  assert.equal(dataDir({ ...all, QUEUECTL_HOME: "" }), "/xdg/queuectl", "empty means unset");
  assert.equal(dataDir({ XDG_DATA_HOME: "/xdg", HOME: "/home/u" }), "/xdg/queuectl");
  assert.equal(dataDir({ HOME: "/home/u" }), "/home/u/.local/share/queuectl");
  assert.equal(dataDir({ HOME: "/home/u/", XDG_DATA_HOME: "" }), "/home/u/.local/share/queuectl");
  assert.equal(dataDir({}), "./.queuectl");
});

Deno.test("resolvePaths() puts the store and logs in the data dir; --db moves only the store", () => {
  assert.deepEqual(resolvePaths({ QUEUECTL_HOME: "/q" }), {
    dataDir: "/q",
    dbPath: "/q/queue.db",
    logDir: "/q/logs",
  });
  assert.deepEqual(resolvePaths({ XDG_DATA_HOME: "/xdg/" }), {
    dataDir: "/xdg/queuectl",
    dbPath: "/xdg/queuectl/queue.db",
    logDir: "/xdg/queuectl/logs",
  });
  assert.deepEqual(resolvePaths({ QUEUECTL_HOME: "/q" }, "/elsewhere/other.db"), {
    dataDir: "/q",
    dbPath: "/elsewhere/other.db",
    logDir: "/q/logs",
  });
});

Deno.test("attemptLogPath() is logs/<job>/<attempt>.out|err", () => {
  assert.equal(attemptLogPath("/q/logs", "job1", 2, "out"), "/q/logs/job1/2.out");
  assert.equal(attemptLogPath("/q/logs", "job1", 2, "err"), "/q/logs/job1/2.err");
  assert.equal(jobLogDir("/q/logs", "job-1.a_b"), "/q/logs/job-1.a_b");
});

Deno.test("jobLogDir() gives different ids different directories, one path segment each", () => {
  const ids = ["a:b", "a_b", "a.b", "a-b", "a%3Ab", ".", "..", "a/b", "a/../b"];
  const dirs = ids.map((id) => jobLogDir("/q/logs", id));
  assert.equal(new Set(dirs).size, ids.length, dirs.join(" "));
  for (const dir of dirs) {
    const segment = dir.slice("/q/logs/".length);
    assert.ok(!segment.includes("/") && segment !== "." && segment !== "..", dir);
  }
});

Deno.test("dirname() returns the directory part of a path", () => {
  assert.equal(dirname("/a/b/c.db"), "/a/b");
  assert.equal(dirname("/c.db"), "/");
  assert.equal(dirname("c.db"), ".");
});

Deno.test("wakeSocketPath() is beside the store, and null for a relative store or a path too long for a socket", () => {
  assert.equal(wakeSocketPath("/data/q/queue.db", "w-1a2b"), "/data/q/queue.db.wake/w-1a2b.sock");
  assert.equal(wakeDir("/data/q/queue.db"), "/data/q/queue.db.wake");
  assert.equal(wakeSocketPath("q.db", "w-1a2b"), null);
  assert.equal(wakeDir("q.db"), null);
  assert.equal(wakeSocketPath(`/${"d".repeat(120)}/queue.db`, "w-1a2b"), null);
  const longest = `/${"d".repeat(100 - "/.wake/w-1.sock".length - 2)}/q`;
  assert.equal(wakeSocketPath(longest, "w-1")?.length, 100);
});
