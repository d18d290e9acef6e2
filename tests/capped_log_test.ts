import assert from "node:assert/strict";
import { CappedLog, MAX_MEMORY_TAIL_BYTES, TailBuffer } from "../lib/capped_log.ts";
import { needs } from "./_helpers/needs.ts";

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

/**
 * `length` bytes of a pattern in which every byte tells where it was written: each 8-byte
 * block spells its own offset in hex, so a slice from the wrong place never matches.
 */
function pattern(start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const hex = new TextEncoder().encode("0123456789abcdef");
  for (let i = 0; i < length; i++) {
    const at = start + i, digit = at % 8;
    out[i] = hex[Math.floor((at - digit) / 16 ** (7 - digit)) % 16];
  }
  return out;
}

/** Asserts that `actual` equals `expected` byte for byte, naming the first difference. */
function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  assert.ok(
    i === n && actual.length === expected.length,
    `${what}: ${actual.length} bytes where ${expected.length} were expected, first ` +
      `difference at byte ${i}: ${JSON.stringify(text(actual.subarray(i, i + 16)))} instead ` +
      `of ${JSON.stringify(text(expected.subarray(i, i + 16)))}`,
  );
}

/** Writes `total` bytes of the pattern to `log` in chunks of `chunk` bytes. */
async function writePattern(
  log: CappedLog,
  total: number,
  chunk: number,
  afterEach: () => void = () => {},
): Promise<void> {
  for (let at = 0; at < total; at += chunk) {
    await log.write(pattern(at, Math.min(chunk, total - at)));
    afterEach();
  }
}

/** Splits a capped log file into head, the omitted count of its marker, and tail. */
function splitAtMarker(file: Uint8Array): { head: Uint8Array; omitted: number; tail: Uint8Array } {
  const all = new TextDecoder("latin1").decode(file);
  const marker = /\n\[queuectl: (\d+) bytes of output omitted\]\n/.exec(all);
  assert.ok(marker, "a marker line says what was left out");
  return {
    head: file.subarray(0, marker.index),
    omitted: Number(marker[1]),
    tail: file.subarray(marker.index + marker[0].length),
  };
}

Deno.test("CappedLog over its cap keeps exactly the first and the last cap/2 bytes around a marker naming the rest", async () => {
  await withDir(async (dir) => {
    const cap = 1000, total = 10_007;
    const log = new CappedLog(`${dir}/1.out`, cap);
    await writePattern(log, total, 37);
    await log.close();
    assert.equal(log.error, null);
    const { head, omitted, tail } = splitAtMarker(await Deno.readFile(`${dir}/1.out`));
    assertBytes(head, pattern(0, cap / 2), "head");
    assertBytes(tail, pattern(total - cap / 2, cap / 2), "tail");
    assert.equal(omitted, total - cap);
    assert.equal(log.bytesSeen, total);
  });
});

Deno.test("CappedLog holds at most MAX_MEMORY_TAIL_BYTES of tail whatever the cap: a bigger cap goes to the head", async () => {
  await withDir(async (dir) => {
    const cap = 4 * MAX_MEMORY_TAIL_BYTES, total = 2 * cap + 4093;
    const log = new CappedLog(`${dir}/1.out`, cap);
    let mostHeld = 0;
    await writePattern(log, total, 64 * 1024 + 13, () => {
      mostHeld = Math.max(mostHeld, log.tailBytesHeld);
    });
    assert.equal(mostHeld, MAX_MEMORY_TAIL_BYTES, "the tail held in memory while writing");
    await log.close();
    assert.equal(log.error, null);
    const { head, omitted, tail } = splitAtMarker(await Deno.readFile(`${dir}/1.out`));
    assertBytes(head, pattern(0, cap - MAX_MEMORY_TAIL_BYTES), "head: the cap less the tail");
    assertBytes(tail, pattern(total - MAX_MEMORY_TAIL_BYTES, MAX_MEMORY_TAIL_BYTES), "tail");
    assert.equal(omitted, total - cap);
  });
});

/** The peak memory of a process that writes `totalMiB` through a CappedLog to /dev/null. */
async function peakWriting(capMiB: number, totalMiB: number): Promise<number> {
  // Fresh chunks, as a pipe gives them, so that keeping them would show.
  const script = `
import { CappedLog } from ${JSON.stringify(new URL("../lib/capped_log.ts", import.meta.url).href)};
const log = new CappedLog("/dev/null", ${capMiB} * 1024 * 1024);
for (let at = 0; at < ${totalMiB} * 1024 * 1024; at += 65536) {
  await log.write(new Uint8Array(65536).fill(at >> 16));
}
await log.close();
if (log.error) throw log.error;
const status = await Deno.readTextFile("/proc/self/status");
console.log(/^VmHWM:\\s+(\\d+) kB/m.exec(status)[1]);
`;
  // Deno lets only --allow-all open /dev/null for writing and read /proc: a child process.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", "--quiet", "--ext=js", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout).trim()) * 1024;
}

Deno.test("CappedLog's memory stays bounded whatever the cap: 384 MiB through a 192 MiB cap peaks like 384 MiB through a 2 MiB cap", async () => {
  const small = await peakWriting(2, 384);
  const big = await peakWriting(192, 384);
  const MiB = 1024 * 1024;
  // Holding half the cap (96 MiB), or the chunks themselves, would show as 96 MiB or more.
  assert.ok(
    big - small < 40 * MiB,
    `peak ${(big / MiB).toFixed(1)} MiB with the big cap, ${(small / MiB).toFixed(1)} MiB ` +
      "with the small one",
  );
});

const hasDevFull = (await new Deno.Command("test", { args: ["-c", "/dev/full"] }).output())
  .success;

Deno.test({
  ...needs(
    "CappedLog on a full disk (/dev/full) keeps its first error, writes nothing more, keeps reading and never throws",
    hasDevFull ? null : "no /dev/full on this system",
  ),
  async fn() {
    // Deno lets only --allow-all open /dev/full, so the check runs in a child process, which
    // counts the writes that reach the file.
    const script = `
import { CappedLog } from ${JSON.stringify(new URL("../lib/capped_log.ts", import.meta.url).href)};
const write = Deno.FsFile.prototype.write;
let writes = 0;
Deno.FsFile.prototype.write = function (p) { writes++; return write.call(this, p); };
const log = new CappedLog("/dev/full", 1024);
await log.write(new TextEncoder().encode("first\\n"));
const first = log.error;
const afterFirst = writes;
await log.write(new Uint8Array(5000));
await log.write(new TextEncoder().encode("more\\n"));
await log.close();
console.log(JSON.stringify({
  first: first?.message ?? null,
  same: log.error === first,
  afterFirst,
  writes,
}));
`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", "--quiet", "--ext=ts", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.match(result.first, /No space left on device|os error 28/, "the first write failed");
    assert.equal(result.afterFirst, 1, "one write reached the file");
    assert.equal(result.writes, 1, "no write after the first error, at close neither");
    assert.equal(result.same, true, "the first error is the one kept");
  },
});
