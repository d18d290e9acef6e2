/**
 * Text files as UTF-8, refused rather than repaired (pure): a job's command must be the
 * bytes its file holds, not a copy with U+FFFD in place of what could not be read.
 * @module
 */
import { UsageError } from "./errors.ts";

/**
 * The offset of the first byte that does not belong to well-formed UTF-8 (an overlong
 * form, a surrogate, a code point past U+10FFFF, a stray or missing continuation byte), or
 * null when every byte does.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number | null {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let lowest = 0x80; // bounds of the second byte, which rule out overlongs and surrogates
    let highest = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) lowest = 0xa0;
      if (b === 0xed) highest = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) lowest = 0x90;
      if (b === 0xf4) highest = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      const [lo, hi] = k === 1 ? [lowest, highest] : [0x80, 0xbf];
      if (c === undefined || c < lo || c > hi) return i;
    }
    i += length;
  }
  return null;
}

/** Decodes UTF-8 text, throwing a UsageError naming `name` and the first bad byte's offset. */
export function decodeUtf8(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes) ?? 0;
    const byte = (bytes[offset] ?? 0).toString(16).padStart(2, "0");
    throw new UsageError(
      `Invalid UTF-8 in ${name} at byte offset ${offset} (0x${byte}): expected UTF-8 text`,
    );
  }
}
