/**
 * Which fetched values carry Rivven's per-value framing, decided from a value's first bytes alone:
 * no inflating, no allocation beyond one small object. Pure.
 *
 * Rivven frames values one by one with no batch attribute (rivven-core `Compressor`):
 *
 *   compressed:   [flags u8][original size u32 LE][CRC32 u32 LE if flags & 0x20][payload]
 *   uncompressed: [flags u8][CRC32 u32 LE if flags & 0x20][data]
 *
 * so a plain value and a framed one can look alike (`[0x00][data]` is what a compressing
 * rivven-core producer writes for values under 64 bytes, and the first byte of countless plain
 * values). Three framings say how to tell them apart:
 *
 * - 'detect' (default): a value is decoded only when it is, beyond reasonable doubt, framed. Its
 *   first byte must be exactly one a size-declaring frame starts with — 0x11, 0x12, 0x13 (LZ4, Zstd,
 *   Snappy + size), 0x31, 0x32, 0x33 (the same + CRC32) or 0x30 (uncompressed + size + CRC32, what
 *   our own producer writes for values it stores uncompressed) — AND the size field must agree with
 *   a second, independent size (LZ4's own size prefix, Snappy's length preamble, the Zstd magic
 *   number and frame content size, or for 0x30 the remaining length), AND the payload must decode
 *   to exactly that many bytes (at least one) with nothing left over, AND the CRC must match when
 *   flagged. Anything else passes through unchanged: `[0x00][data]`, `[0x20][crc][data]`, every
 *   other first byte, a claim over the 256 MiB cap, a frame of an empty value (all zeros: size 0,
 *   CRC32 of nothing 0 — a pattern plain values have). 'detect' never throws. The odds that a value which was never framed passes all checks by chance (its bytes after
 *   the first uniformly random) are at most 2^-48 when it starts with 0x13 (measured: random bytes
 *   form a valid Snappy stream of exactly the preamble's length with p ≈ 2^-16, times 2^-32 for the
 *   size fields to agree), at most 2^-64 for the other six first bytes (two independent 32-bit
 *   fields must agree, or one must agree and a CRC32 match), and zero for the other 249.
 *   `[0x20][crc][data]` is left alone on purpose: a CRC32 alone would alter about one plain value in
 *   2^32 of those starting with a space — a few a day for a busy text topic.
 * - 'rivven-core': every value was framed by a rivven-core `Compressor` (a compressing Rust
 *   rivven-client producer): decode every value as `Compressor::decompress` does; a value that
 *   breaks its framing is an error. An empty value (which no Compressor writes) stays empty.
 * - 'raw': never alter a value.
 *
 * Every plan says how many bytes decoding may allocate (`reserveBytes`), read from the headers, so a
 * caller can enforce a budget before anything is inflated.
 */
import { zstdOutputBound } from './zstd-frame.js';

/**
 * How a consumer recognises Rivven-framed (compressed) values: `detect` decodes only values framed
 * beyond reasonable doubt, `rivven-core` treats every value as framed by a rivven-core
 * `Compressor`, `raw` never alters a value. See docs/value-framing.md.
 */
export type ValueFraming = 'detect' | 'rivven-core' | 'raw';

/** A per-value compression algorithm (`none` frames without compressing). */
export type CompressionAlgorithm = 'none' | 'lz4' | 'zstd' | 'snappy';

/** `MAX_DECOMPRESSION_SIZE` in rivven-core: no value decodes to more. */
export const MAX_DECOMPRESSED_SIZE = 256 * 1024 * 1024;

export const ALGORITHM_BITS: Readonly<Record<CompressionAlgorithm, number>> = { none: 0, lz4: 1, zstd: 2, snappy: 3 };
const ALGORITHM_BY_BITS: readonly CompressionAlgorithm[] = ['none', 'lz4', 'zstd', 'snappy'];
export const FLAG_HAS_SIZE = 0x10;
export const FLAG_HAS_CHECKSUM = 0x20;
/** LZ4 cannot expand input more than ~255×; Snappy ~22×. Slack covers headers. */
const LZ4_MAX_RATIO = 256;
const SNAPPY_MAX_RATIO = 32;
const RATIO_SLACK = 64;

/** The first bytes 'detect' considers (all declare a size; see the module comment). */
export const DETECTED_FLAGS: readonly number[] = [0x11, 0x12, 0x13, 0x30, 0x31, 0x32, 0x33];
const DETECTED = new Uint8Array(256);
for (const flags of DETECTED_FLAGS) DETECTED[flags] = 1;

/** A value's Rivven compression header, parsed (`planValue` reads it; the payload is not inflated yet). */
export interface ValueHeader {
  /** The algorithm the flags byte declares (`'none'` for a stored-uncompressed frame). */
  readonly algorithm: CompressionAlgorithm;
  /** The header's original-size field, when flagged. */
  readonly originalSize: number | undefined;
  /** The header's CRC32 of the uncompressed data, when flagged. */
  readonly expectedCrc: number | undefined;
  /** The bytes after the header: compressed data, or the value itself for `'none'`. */
  readonly payload: Buffer;
}

/** What to do with one value, decided from its headers before anything is inflated (`planValue`). */
export type ValuePlan =
  /** Deliver the value as it is. */
  | {
      /** Deliver the value unchanged. */
      readonly action: 'pass';
    }
  /**
   * Inflate `header.payload`; the output must be `exactSize` bytes (when set) and match
   * `header.expectedCrc` (when set). If it does not: 'pass' delivers the value unchanged (it only
   * looked framed), 'throw' is a CompressionError. `reserveBytes` bounds what inflating allocates
   * (and covers the unchanged value under 'pass').
   */
  | {
      /** Inflate the payload. */
      readonly action: 'decode';
      /** The parsed header: algorithm, declared size and CRC32, payload. */
      readonly header: ValueHeader;
      /** The most bytes inflating may allocate. */
      readonly reserveBytes: number;
      /** The size the output must have, when known. */
      readonly exactSize: number | undefined;
      /** What a wrong output means: deliver the value unchanged (`pass`), or a CompressionError (`throw`). */
      readonly onMismatch: 'pass' | 'throw';
    }
  /** A CompressionError ('rivven-core' only): the value's framing is broken or over the per-value cap. */
  | {
      /** Fail with a CompressionError. */
      readonly action: 'fail';
      /** Why the value cannot be decoded. */
      readonly reason: string;
    };

const PASS: ValuePlan = { action: 'pass' };

/** How to decode one value under `framing` (see the module comment). */
export function planValue(value: Buffer, framing: ValueFraming): ValuePlan {
  switch (framing) {
    case 'raw':
      return PASS;
    case 'detect':
      return planDetected(value);
    case 'rivven-core':
      return planFramed(value);
  }
}

/**
 * The header, or why the value has none (a string, not an Error: consumers call this per record,
 * and building an Error captures a stack trace). As rivven-core: bits 0–2 name the algorithm,
 * bits 3, 6 and 7 are ignored.
 */
export function parseValueHeader(value: Buffer): ValueHeader | string {
  if (value.length === 0) return 'empty value has no compression header';
  const flags = value[0]!;
  const algorithm = ALGORITHM_BY_BITS[flags & 0x07];
  if (algorithm === undefined) return `unknown compression algorithm id ${flags & 0x07} in value header`;
  let offset = 1;
  let originalSize: number | undefined;
  let expectedCrc: number | undefined;
  if (flags & FLAG_HAS_SIZE) {
    if (value.length < offset + 4) return 'value header truncated before its size field';
    originalSize = value.readUInt32LE(offset);
    offset += 4;
  }
  if (flags & FLAG_HAS_CHECKSUM) {
    if (value.length < offset + 4) return 'value header truncated before its checksum';
    expectedCrc = value.readUInt32LE(offset);
    offset += 4;
  }
  return { algorithm, originalSize, expectedCrc, payload: value.subarray(offset) };
}

/** A snappy raw stream's length preamble (a varint), or undefined if malformed. */
export function snappyClaimedLength(payload: Buffer): number | undefined {
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 5 && i < payload.length; i++) {
    const byte = payload[i]!;
    result += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return result;
    multiplier *= 0x80;
  }
  return undefined;
}

/**
 * 'detect', before anything is allocated: false when planDetected would certainly PASS the value
 * (a header cut short, a size of 0, or a second size field that disagrees with the header's — the
 * same conditions planDetected checks below, read in place). Plain values whose first byte happens
 * to be a detected flag (the digits '0'…'3' are 0x30…0x33) cost a few byte reads instead of a
 * header object and a Buffer view each. True means "maybe": planDetected decides.
 */
function sizesMayAgree(value: Buffer): boolean {
  const flags = value[0]!; // every detected flag declares a size (0x10)
  const payloadStart = flags & FLAG_HAS_CHECKSUM ? 9 : 5;
  const length = value.length;
  if (length < payloadStart) return false;
  const size = value[1]! + value[2]! * 0x100 + value[3]! * 0x1_0000 + value[4]! * 0x100_0000;
  if (size === 0) return false;
  const payloadLength = length - payloadStart;
  switch (flags & 0x07) {
    case 0: // none: the size is what follows the header
      return size === payloadLength;
    case 1: // lz4: its own u32 LE size prefix must agree
      return (
        payloadLength >= 4 &&
        value[payloadStart]! + value[payloadStart + 1]! * 0x100 + value[payloadStart + 2]! * 0x1_0000 + value[payloadStart + 3]! * 0x100_0000 === size
      );
    case 3: {
      // snappy: its varint length preamble must agree (as snappyClaimedLength)
      let claimed = 0;
      let multiplier = 1;
      for (let i = payloadStart; i < payloadStart + 5 && i < length; i++) {
        const byte = value[i]!;
        claimed += (byte & 0x7f) * multiplier;
        if ((byte & 0x80) === 0) return claimed === size;
        multiplier *= 0x80;
      }
      return false;
    }
    default: {
      // zstd: a payload that does not start with a frame magic is refused by zstdOutputBound.
      if (payloadLength < 4) return true;
      const magic = (value[payloadStart]! | (value[payloadStart + 1]! << 8) | (value[payloadStart + 2]! << 16) | (value[payloadStart + 3]! << 24)) >>> 0;
      return magic === 0xfd2fb528 || (magic & 0xfffffff0) >>> 0 === 0x184d2a50;
    }
  }
}

/** 'detect': decode only a value whose two independent size fields agree (see the module comment). */
function planDetected(value: Buffer): ValuePlan {
  if (value.length < 5 || DETECTED[value[0]!] === 0 || !sizesMayAgree(value)) return PASS;
  const header = parseValueHeader(value);
  if (typeof header === 'string') return PASS;
  const size = header.originalSize!;
  // Never decode to an empty value: every frame of one is all zeros (size 0, CRC32 of nothing 0),
  // a pattern plain values have. Our producer sends empty values unframed.
  if (size === 0) return PASS;
  const { payload } = header;
  const decode = (reserve: number): ValuePlan => ({
    action: 'decode',
    header,
    reserveBytes: Math.max(reserve, value.length),
    exactSize: size,
    onMismatch: 'pass',
  });
  switch (header.algorithm) {
    case 'none':
      // Our own uncompressed frame [0x30][size][crc][data]: the size is what follows the header.
      return size === payload.length ? decode(0) : PASS;
    case 'lz4':
      if (payload.length < 4 || payload.readUInt32LE(0) !== size) return PASS;
      if (size > payload.length * LZ4_MAX_RATIO + RATIO_SLACK || size > MAX_DECOMPRESSED_SIZE) return PASS;
      return decode(size);
    case 'snappy':
      if (snappyClaimedLength(payload) !== size || size > payload.length * SNAPPY_MAX_RATIO + RATIO_SLACK) return PASS;
      return size > MAX_DECOMPRESSED_SIZE ? PASS : decode(size);
    case 'zstd': {
      const bound = zstdOutputBound(payload, Number.POSITIVE_INFINITY);
      if (!bound.ok) return PASS;
      if (bound.declaredContentSize !== undefined && bound.declaredContentSize !== size) return PASS;
      if (size > bound.blockBound) return PASS;
      // The zstd binding allocates a declared content size up front, else grows to what the blocks produce.
      const reserve = bound.declaredContentSize ?? bound.blockBound;
      return Math.max(size, reserve) > MAX_DECOMPRESSED_SIZE ? PASS : decode(reserve);
    }
  }
}

/** Why a claimed size is impossible, or undefined when it is plausible. */
function claimProblem(claimed: number, payloadLength: number, maxRatio: number, originalSize: number | undefined, what: string): string | undefined {
  if (claimed > MAX_DECOMPRESSED_SIZE) return `${what} payload claims ${claimed} bytes, over the ${MAX_DECOMPRESSED_SIZE}-byte limit`;
  if (claimed > payloadLength * maxRatio + RATIO_SLACK) {
    return `${what} payload of ${payloadLength} bytes cannot expand to the ${claimed} bytes it claims: corrupt data`;
  }
  if (originalSize !== undefined && claimed !== originalSize) {
    return `${what} payload size ${claimed} disagrees with the header's ${originalSize}: corrupt data`;
  }
  return undefined;
}

/**
 * 'rivven-core': the value must be a rivven-core frame. Stricter than `Compressor::decompress` only
 * where a rivven-core compressor never writes such bytes (sizes that disagree, impossible ratios).
 */
function planFramed(value: Buffer): ValuePlan {
  // rivven-core never writes an empty value (its frames have a header); an empty value is empty.
  if (value.length === 0) return PASS;
  const header = parseValueHeader(value);
  if (typeof header === 'string') return { action: 'fail', reason: header };
  const { algorithm, originalSize, payload } = header;
  if (originalSize !== undefined && originalSize > MAX_DECOMPRESSED_SIZE) {
    return { action: 'fail', reason: `value claims ${originalSize} bytes uncompressed, over the ${MAX_DECOMPRESSED_SIZE}-byte limit` };
  }
  const decode = (reserve: number, exactSize: number | undefined): ValuePlan => ({ action: 'decode', header, reserveBytes: reserve, exactSize, onMismatch: 'throw' });
  switch (algorithm) {
    case 'none':
      // rivven-core ignores a size field on an uncompressed frame; so do we.
      return decode(payload.length, undefined);
    case 'lz4': {
      if (payload.length < 4) return { action: 'fail', reason: 'lz4 payload shorter than its size prefix' };
      const claimed = payload.readUInt32LE(0);
      const problem = claimProblem(claimed, payload.length, LZ4_MAX_RATIO, originalSize, 'lz4');
      return problem === undefined ? decode(claimed, claimed) : { action: 'fail', reason: problem };
    }
    case 'snappy': {
      const claimed = snappyClaimedLength(payload);
      if (claimed === undefined) return { action: 'fail', reason: 'snappy payload has a malformed length header' };
      const problem = claimProblem(claimed, payload.length, SNAPPY_MAX_RATIO, originalSize, 'snappy');
      return problem === undefined ? decode(claimed, claimed) : { action: 'fail', reason: problem };
    }
    case 'zstd': {
      const bound = zstdOutputBound(payload, MAX_DECOMPRESSED_SIZE);
      if (!bound.ok) return { action: 'fail', reason: `zstd payload rejected: ${bound.reason}` };
      const declared = bound.declaredContentSize;
      if (originalSize !== undefined && declared !== undefined && declared !== originalSize) {
        return { action: 'fail', reason: `zstd frame size ${declared} disagrees with the header's ${originalSize}: corrupt data` };
      }
      if (originalSize !== undefined && originalSize > bound.blockBound) {
        return { action: 'fail', reason: `zstd payload cannot expand to the ${originalSize} bytes its header claims: corrupt data` };
      }
      return decode(declared ?? bound.blockBound, originalSize ?? declared);
    }
  }
}
