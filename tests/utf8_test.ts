import assert from "node:assert/strict";
import { decodeUtf8, firstInvalidUtf8 } from "../lib/utf8.ts";
import { assertUsage } from "./_helpers/assert.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("firstInvalidUtf8() finds the first byte that is not well-formed UTF-8", () => {
  assert.equal(firstInvalidUtf8(new TextEncoder().encode("café ✓ 𝄞")), null);
  assert.equal(firstInvalidUtf8(bytes(0x61, 0xe9, 0x62)), 1, "Latin-1 é");
  assert.equal(firstInvalidUtf8(bytes(0x61, 0x80)), 1, "a stray continuation byte");
  assert.equal(firstInvalidUtf8(bytes(0xc0, 0xaf)), 0, "an overlong slash");
  assert.equal(firstInvalidUtf8(bytes(0xe0, 0x80, 0xaf)), 0, "an overlong three-byte form");
  assert.equal(firstInvalidUtf8(bytes(0x41, 0xed, 0xa0, 0x80)), 1, "a surrogate");
  assert.equal(firstInvalidUtf8(bytes(0xf4, 0x90, 0x80, 0x80)), 0, "past U+10FFFF");
  assert.equal(firstInvalidUtf8(bytes(0x41, 0x42, 0xe2, 0x9c)), 2, "cut off at the end");
  assert.equal(firstInvalidUtf8(bytes(0xff)), 0);
});

Deno.test("firstInvalidUtf8() agrees with a fatal TextDecoder on every two-byte sequence", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (let a = 0x80; a < 0x100; a++) {
    for (let b = 0; b < 0x100; b += 7) {
      const input = bytes(a, b, 0x80, 0x80);
      let valid = true;
      try {
        fatal.decode(input);
      } catch {
        valid = false;
      }
      assert.equal(firstInvalidUtf8(input) === null, valid, `${a.toString(16)} ${b.toString(16)}`);
    }
  }
});

Deno.test("decodeUtf8() refuses invalid UTF-8 naming where and the byte offset", () => {
  assert.equal(decodeUtf8(new TextEncoder().encode("echo café"), "x"), "echo café");
  assertUsage(
    () => decodeUtf8(bytes(0x65, 0x63, 0x68, 0x6f, 0x20, 0xe9), '"jobs.json"'),
    'Invalid UTF-8 in "jobs.json" at byte offset 5 (0xe9): expected UTF-8 text',
  );
});
