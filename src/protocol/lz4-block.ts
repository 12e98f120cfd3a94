/**
 * LZ4 block compression in JavaScript, for small values: the LZ4 block format (what lz4_flex's
 * `compress_prepend_size` writes after its 4-byte length, and what rivven-core's Lz4 codec reads).
 * Pure: bytes in, bytes out.
 *
 * Why it exists beside lz4-napi: a producer compresses every value on its own (rivven-core's
 * framing is per value), and for a 100-byte value the native call costs ~2 µs — more than the
 * rest of the producer's work for that record — while compressing it here costs a fraction of
 * that. Large values still go to the native codec (see compression.ts), and decompression always
 * does: what this writes is checked against it (spec/unit/lz4-block.spec.ts).
 */

/** The format's end rules: the last 5 bytes are literals, and no match starts in the last 12. */
const LAST_LITERALS = 5;
const MATCH_FIND_LIMIT = 12;
const MIN_MATCH = 4;
const MAX_OFFSET = 0xffff;
const HASH_BITS = 12;

/**
 * Positions of 4-byte sequences seen, by hash. Shared by every call and never cleared: an entry
 * counts only when it is at least `base`, the start of the current call's numbering, so a call
 * costs no table reset. The numbering restarts (one clear) long before it could overflow.
 */
const table = new Int32Array(1 << HASH_BITS);
let base = 1;
const BASE_RESTART = 1 << 30;

/** The most bytes `compressBlock` writes for `length` input bytes (LZ4's worst case). */
export function compressBlockBound(length: number): number {
  return length + Math.floor(length / 255) + 16;
}

function read32(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
}

function hash(sequence: number): number {
  return Math.imul(sequence, 2654435761) >>> (32 - HASH_BITS);
}

/** A length's continuation bytes (255, 255, …, rest) after a token nibble of 15. */
function writeLengthTail(out: Uint8Array, at: number, rest: number): number {
  while (rest >= 255) {
    out[at++] = 255;
    rest -= 255;
  }
  out[at++] = rest;
  return at;
}

function copyBytes(out: Uint8Array, at: number, from: Uint8Array, start: number, end: number): number {
  if (end - start > 32) {
    out.set(from.subarray(start, end), at);
    return at + end - start;
  }
  for (let i = start; i < end; i++) out[at++] = from[i]!;
  return at;
}

/**
 * Compress `input` as one LZ4 block into `out` from `outAt`; returns the position after the block.
 * `out` must have `compressBlockBound(input.length)` bytes free from `outAt`. Greedy matching
 * over a 4,096-entry hash table, as LZ4's fast mode.
 */
export function compressBlock(input: Uint8Array, out: Uint8Array, outAt: number): number {
  const length = input.length;
  if (length >= BASE_RESTART) throw new RangeError(`compressBlock takes inputs under ${BASE_RESTART} bytes, got ${length}`);
  if (base > BASE_RESTART) {
    table.fill(0);
    base = 1;
  }
  const callBase = base;
  base += length + 1;
  let op = outAt;
  let anchor = 0;
  if (length >= MATCH_FIND_LIMIT + 1) {
    const lastMatchStart = length - MATCH_FIND_LIMIT;
    const matchEndLimit = length - LAST_LITERALS;
    let at = 0;
    while (at <= lastMatchStart) {
      const sequence = read32(input, at);
      const slot = hash(sequence);
      const seen = table[slot]! - callBase;
      table[slot] = callBase + at;
      if (seen < 0 || at - seen > MAX_OFFSET || read32(input, seen) !== sequence) {
        at++;
        continue;
      }
      let start = at;
      let from = seen;
      // Extend backwards over literals not yet emitted, then forwards up to the end rule.
      while (start > anchor && from > 0 && input[start - 1] === input[from - 1]) {
        start--;
        from--;
      }
      let end = at + MIN_MATCH;
      let fromEnd = seen + MIN_MATCH;
      while (end + 4 <= matchEndLimit && read32(input, end) === read32(input, fromEnd)) {
        end += 4;
        fromEnd += 4;
      }
      while (end < matchEndLimit && input[end] === input[fromEnd]) {
        end++;
        fromEnd++;
      }
      const literals = start - anchor;
      const matchExtra = end - start - MIN_MATCH;
      const token = op++;
      if (literals >= 15) op = writeLengthTail(out, op, literals - 15);
      op = copyBytes(out, op, input, anchor, start);
      const offset = start - from;
      out[op++] = offset & 0xff;
      out[op++] = offset >>> 8;
      if (matchExtra >= 15) op = writeLengthTail(out, op, matchExtra - 15);
      out[token] = ((literals >= 15 ? 15 : literals) << 4) | (matchExtra >= 15 ? 15 : matchExtra);
      anchor = end;
      at = end;
      // The position just before the match's end: the next match often starts there.
      if (end - 2 > start && end - 2 <= lastMatchStart) table[hash(read32(input, end - 2))] = callBase + end - 2;
    }
  }
  const literals = length - anchor;
  out[op++] = (literals >= 15 ? 15 : literals) << 4;
  if (literals >= 15) op = writeLengthTail(out, op, literals - 15);
  return copyBytes(out, op, input, anchor, length);
}
