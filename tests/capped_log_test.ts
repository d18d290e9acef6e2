import assert from "node:assert/strict";
import { CappedLog, MAX_MEMORY_TAIL_BYTES, TailBuffer } from "../lib/capped_log.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-capped-log-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("TailBuffer keeps the last bytes pushed, across wrap-arounds and oversized chunks", () => {
  const tail = new TailBuffer(8);
  assert.equal(text(tail.bytes()), "");
  tail.push(bytes("abc"));
  assert.equal(text(tail.bytes()), "abc");
  tail.push(bytes("defgh"));
  assert.equal(text(tail.bytes()), "abcdefgh");
  tail.push(bytes("ij"));
  assert.equal(text(tail.bytes()), "cdefghij");
  tail.push(bytes("0123456789"));
  assert.equal(text(tail.bytes()), "23456789");
  tail.push(bytes("x"));
  assert.equal(text(tail.bytes()), "3456789x");
});

Deno.test("CappedLog writes output under the cap unchanged, in chunks as they come", async () => {
  await withDir(async (dir) => {
    const log = new CappedLog(`${dir}/a/1.out`, 1024);
    for (const part of ["one\n", "two\n", "three\n"]) await log.write(bytes(part));
    await log.close();
    assert.equal(log.error, null);
    assert.equal(await Deno.readTextFile(`${dir}/a/1.out`), "one\ntwo\nthree\n");
  });
});

Deno.test("CappedLog creates no file for an attempt that printed nothing", async () => {
  await withDir(async (dir) => {
    const log = new CappedLog(`${dir}/b/1.err`, 1024);
    await log.close();
    await assert.rejects(() => Deno.stat(`${dir}/b/1.err`), Deno.errors.NotFound);
  });
});

Deno.test("CappedLog over its cap keeps the head and the tail around a marker, within cap + marker", async () => {
  await withDir(async (dir) => {
    const cap = 1000;
    const log = new CappedLog(`${dir}/1.out`, cap);
    const lines = Array.from({ length: 500 }, (_, i) => `line ${String(i).padStart(3, "0")}\n`);
    for (const line of lines) await log.write(bytes(line));
    await log.close();
    const all = lines.join("");
    const kept = await Deno.readTextFile(`${dir}/1.out`);
    const marker = /\n\[queuectl: (\d+) bytes of output omitted\]\n/.exec(kept)!;
    assert.ok(marker, "a marker line says what was left out");
    const head = kept.slice(0, marker.index);
    const tail = kept.slice(marker.index + marker[0].length);
    assert.equal(head, all.slice(0, head.length));
    assert.equal(tail, all.slice(all.length - tail.length));
    assert.equal(head.length + tail.length, cap);
    assert.equal(Number(marker[1]), all.length - cap);
    assert.equal(log.bytesSeen, all.length);
  });
});

Deno.test("CappedLog holds at most MAX_MEMORY_TAIL_BYTES of tail whatever the cap", async () => {
  await withDir(async (dir) => {
    const cap = 4 * MAX_MEMORY_TAIL_BYTES;
    const log = new CappedLog(`${dir}/1.out`, cap);
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    for (let written = 0; written < 2 * cap; written += chunk.length) await log.write(chunk);
    await log.close();
    const size = (await Deno.stat(`${dir}/1.out`)).size;
    const marker = `\n[queuectl: ${2 * cap - cap} bytes of output omitted]\n`.length;
    assert.equal(size, cap + marker, "head (cap - 1 MiB) + marker + 1 MiB tail");
  });
});

Deno.test("CappedLog on a full disk (/dev/full) keeps reading, records ENOSPC and never throws", async () => {
  const probe = await new Deno.Command("test", { args: ["-c", "/dev/full"] }).output();
  if (!probe.success) {
    console.log("skipped: no /dev/full on this system");
    return;
  }
  // Deno lets only --allow-all open /dev/full, so the check runs in a child process.
  const script = `
import { CappedLog } from ${JSON.stringify(new URL("../lib/capped_log.ts", import.meta.url).href)};
const log = new CappedLog("/dev/full", 1024);
await log.write(new TextEncoder().encode("first\\n"));
const first = log.error?.message ?? null;
await log.write(new Uint8Array(5000));
await log.close();
console.log(JSON.stringify({ first, last: log.error?.message ?? null }));
`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", "--quiet", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.match(result.first, /No space left on device|os error 28/, "the first write failed");
  assert.equal(result.last, result.first, "the first error is kept; nothing threw");
});
