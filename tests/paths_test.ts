import assert from "node:assert/strict";
import { assertUsage } from "./_helpers/assert.ts";
import {
  absolutePaths,
  attemptLogPath,
  dataDir,
  dirname,
  jobLogDir,
  remoteStore,
  resolvePaths,
  storeLabel,
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

Deno.test("resolvePaths() takes the store from --db, else QUEUECTL_DB: a file or a KV Connect URL", () => {
  const env = { QUEUECTL_HOME: "/q", QUEUECTL_DB: "https://kv.example.com" };
  assert.equal(resolvePaths(env).dbPath, "https://kv.example.com");
  assert.equal(resolvePaths(env, "/f.db").dbPath, "/f.db", "--db wins over QUEUECTL_DB");
  assert.equal(resolvePaths({ ...env, QUEUECTL_DB: "" }).dbPath, "/q/queue.db", "empty is unset");
  assert.equal(resolvePaths(env).logDir, "/q/logs", "logs stay on this host");
});

Deno.test("remoteStore() is the URL of an http(s) store, null for a file, a UsageError for a bad URL", () => {
  assert.equal(remoteStore("/q/queue.db"), null);
  assert.equal(remoteStore("relative/queue.db"), null);
  assert.equal(remoteStore("c:queue.db"), null);
  assert.equal(remoteStore("http://127.0.0.1:4512")?.host, "127.0.0.1:4512");
  assert.equal(remoteStore("HTTPS://kv.example.com/db/1")?.hostname, "kv.example.com");
  for (const bad of ["ftp://kv", "http://", "https:/kv.example.com", "http:kv", "http://a b"]) {
    assertUsage(() => remoteStore(bad), /^Invalid store ".*": expected a file path or an http/);
  }
  assertUsage(
    () => resolvePaths({}, "https://user:secret@kv.example.com"),
    'Invalid store "https://kv.example.com": put the access token in DENO_KV_ACCESS_TOKEN, not in the URL',
  );
});

Deno.test("storeLabel() names a URL store without credentials, query or fragment", () => {
  assert.equal(storeLabel("/q/queue.db"), "/q/queue.db");
  assert.equal(
    storeLabel("https://u:p@kv.example.com/db/?token=x#y"),
    "https://kv.example.com/db/",
  );
  assert.equal(storeLabel("http://127.0.0.1:4512/"), "http://127.0.0.1:4512");
  assert.equal(storeLabel("http://u:p@bad host/?t=1"), "http://bad host/");
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

Deno.test("absolutePaths() resolves a relative data dir and --db against the cwd, not a URL", () => {
  const rel = resolvePaths({ QUEUECTL_HOME: "relhome" }, "../dbs/./my.db");
  assert.deepEqual(absolutePaths(rel, "/work/here/"), {
    dataDir: "/work/here/relhome",
    dbPath: "/work/dbs/my.db",
    logDir: "/work/here/relhome/logs",
  });
  const abs = resolvePaths({ QUEUECTL_HOME: "/q" });
  assert.deepEqual(absolutePaths(abs, "/elsewhere"), abs, "absolute paths stay as they are");
  const remote = resolvePaths({ QUEUECTL_HOME: "q" }, "https://kv.example.com/db");
  assert.equal(absolutePaths(remote, "/w").dbPath, "https://kv.example.com/db");
});
