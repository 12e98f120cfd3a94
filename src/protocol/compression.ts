/**
 * Rivven per-value compression framing (rivven-core 0.0.22 `Compressor`):
 *
 *   compressed:   [flags u8][original size u32 LE][CRC32 u32 LE if flags & 0x20][payload]
 *   uncompressed: [flags u8][CRC32 u32 LE if flags & 0x20][data]
 *
 * flags bits 0–2 name the algorithm (0 none, 1 LZ4, 2 Zstd, 3 Snappy), 0x10 says a size is present,
 * 0x20 a checksum (CRC32 of the uncompressed data). LZ4 is the block format with its own 4-byte LE
 * size prefix, Snappy is raw (unframed), Zstd a standard frame.
 *
 * Every length is checked before anything is allocated: output is bounded at 256 MiB (as in Rust),
 * and a claimed size the payload cannot possibly expand to is refused as corrupt.
 */
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressSync as lz4Compress, uncompressSync as lz4Decompress } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyDecompress } from 'snappy';
import { crc32 } from 'node:zlib';
import { CompressionError } from '../errors.js';
import { zstdOutputBound } from './zstd-frame.js';

export type CompressionAlgorithm = 'none' | 'lz4' | 'zstd' | 'snappy';

/** `MAX_DECOMPRESSION_SIZE` in rivven-core. */
export const MAX_DECOMPRESSED_SIZE = 256 * 1024 * 1024;

const ALGORITHM_BITS: Record<CompressionAlgorithm, number> = { none: 0, lz4: 1, zstd: 2, snappy: 3 };
const ALGORITHM_BY_BITS: readonly CompressionAlgorithm[] = ['none', 'lz4', 'zstd', 'snappy'];
const FLAG_HAS_SIZE = 0x10;
const FLAG_HAS_CHECKSUM = 0x20;
/** LZ4 cannot expand input more than ~255×; Snappy ~22×. Slack covers headers. */
const LZ4_MAX_RATIO = 256;
const SNAPPY_MAX_RATIO = 32;
const RATIO_SLACK = 64;

export interface CompressionOptions {
  /** Algorithm to use; `none` frames the value without compressing. */
  algorithm: CompressionAlgorithm;
  /** Append a CRC32 of the uncompressed data (rivven-core `checksum`, default false). */
  checksum?: boolean;
  /** Values shorter than this are stored uncompressed (rivven-core default 64). */
  minSize?: number;
  /**
   * Store uncompressed when compressed/original exceeds this (rivven-core default 0.95). Set to
   * Infinity to always keep the compressed form (`compress_with` in rivven-core).
   */
  ratioThreshold?: number;
  /** Zstd level 1–22 (rivven-core default 3). */
  zstdLevel?: number;
}

export const DEFAULT_MIN_SIZE = 64;
export const DEFAULT_RATIO_THRESHOLD = 0.95;
export const DEFAULT_ZSTD_LEVEL = 3;

function frameUncompressed(data: Uint8Array, checksum: boolean): Buffer {
  const headerSize = checksum ? 5 : 1;
  const out = Buffer.allocUnsafe(headerSize + data.length);
  out[0] = checksum ? FLAG_HAS_CHECKSUM : 0;
  if (checksum) out.writeUInt32LE(crc32(data), 1);
  out.set(data, headerSize);
  return out;
}

function frameCompressed(algorithm: CompressionAlgorithm, data: Uint8Array, payload: Uint8Array, checksum: boolean): Buffer {
  const headerSize = checksum ? 9 : 5;
  const out = Buffer.allocUnsafe(headerSize + payload.length);
  out[0] = ALGORITHM_BITS[algorithm] | FLAG_HAS_SIZE | (checksum ? FLAG_HAS_CHECKSUM : 0);
  out.writeUInt32LE(data.length, 1);
  if (checksum) out.writeUInt32LE(crc32(data), 5);
  out.set(payload, headerSize);
  return out;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Compress one value into Rivven framing (rivven-core `Compressor::compress`, adaptive off). */
export async function compressValue(data: Uint8Array, options: CompressionOptions): Promise<Buffer> {
  const done = compressValueSync(data, options);
  if (done !== undefined) return done;
  const payload = await zstdCompress(asBuffer(data), options.zstdLevel ?? DEFAULT_ZSTD_LEVEL);
  return finishCompressed('zstd', data, payload, options);
}

/**
 * `compressValue` without a Promise for none, lz4 and snappy (whose bindings are synchronous):
 * producers frame every record, so a batch need not cost one Promise per value. Returns
 * `undefined` for a zstd value that needs compressing (its binding is async): use `compressValue`.
 */
export function compressValueSync(data: Uint8Array, options: CompressionOptions): Buffer | undefined {
  const checksum = options.checksum ?? false;
  const minSize = options.minSize ?? DEFAULT_MIN_SIZE;
  if (options.algorithm === 'none' || data.length < minSize) return frameUncompressed(data, checksum);
  if (data.length > 0xffff_ffff) throw new CompressionError(`value of ${data.length} bytes is too large to compress`);
  switch (options.algorithm) {
    case 'lz4':
      return finishCompressed('lz4', data, lz4Compress(asBuffer(data)), options);
    case 'snappy':
      return finishCompressed('snappy', data, snappyCompress(asBuffer(data)), options);
    case 'zstd':
      return undefined;
    default:
      throw new CompressionError(`unknown compression algorithm '${String(options.algorithm)}'; use none, lz4, snappy or zstd`);
  }
}

/** Keep the compressed payload only if it saves enough (rivven-core's ratio threshold). */
function finishCompressed(algorithm: CompressionAlgorithm, data: Uint8Array, payload: Buffer, options: CompressionOptions): Buffer {
  const checksum = options.checksum ?? false;
  const ratioThreshold = options.ratioThreshold ?? DEFAULT_RATIO_THRESHOLD;
  if (payload.length / data.length > ratioThreshold) return frameUncompressed(data, checksum);
  return frameCompressed(algorithm, data, payload, checksum);
}

interface ParsedHeader {
  algorithm: CompressionAlgorithm;
  originalSize: number | undefined;
  expectedCrc: number | undefined;
  payload: Buffer;
}

/**
 * The header, or why the value has none. Returns the reason instead of throwing: consumers call
 * this for every record, and most values of producers without compression carry no header, so
 * the "no header" answer must cost nothing (building an Error captures a stack trace).
 */
function readHeader(value: Buffer): ParsedHeader | string {
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
    if (originalSize > MAX_DECOMPRESSED_SIZE) {
      return `value claims ${originalSize} bytes uncompressed, over the ${MAX_DECOMPRESSED_SIZE}-byte limit`;
    }
  }
  if (flags & FLAG_HAS_CHECKSUM) {
    if (value.length < offset + 4) return 'value header truncated before its checksum';
    expectedCrc = value.readUInt32LE(offset);
    offset += 4;
  }
  return { algorithm, originalSize, expectedCrc, payload: value.subarray(offset) };
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

/** A snappy raw stream's uncompressed-length varint (read without decoding anything), or undefined if malformed. */
function snappyClaimedLength(payload: Buffer): number | undefined {
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

/** Why a header cannot be decompressed, checked before any native call (bounded output). */
function preflight(header: ParsedHeader): string | undefined {
  const { algorithm, originalSize, payload } = header;
  switch (algorithm) {
    case 'none':
      return undefined;
    case 'lz4':
      if (payload.length < 4) return 'lz4 payload shorter than its size prefix';
      return claimProblem(payload.readUInt32LE(0), payload.length, LZ4_MAX_RATIO, originalSize, 'lz4');
    case 'snappy': {
      const claimed = snappyClaimedLength(payload);
      if (claimed === undefined) return 'snappy payload has a malformed length header';
      return claimProblem(claimed, payload.length, SNAPPY_MAX_RATIO, originalSize, 'snappy');
    }
    case 'zstd': {
      const bound = zstdOutputBound(payload, MAX_DECOMPRESSED_SIZE);
      if (!bound.ok) return `zstd payload rejected: ${bound.reason}`;
      if (originalSize !== undefined && bound.declaredContentSize !== undefined && bound.declaredContentSize !== originalSize) {
        return `zstd frame size ${bound.declaredContentSize} disagrees with the header's ${originalSize}: corrupt data`;
      }
      return undefined;
    }
  }
}

/** Decompress none/lz4/snappy synchronously (zstd's binding is async only); throws what the codec throws. */
function inflateSync(algorithm: Exclude<CompressionAlgorithm, 'zstd'>, payload: Buffer): Buffer {
  switch (algorithm) {
    case 'none':
      return payload;
    case 'lz4':
      return lz4Decompress(payload);
    case 'snappy':
      return snappyDecompress(payload, { asBuffer: true }) as Buffer;
  }
}

/** Why the output is not what the header promised, or undefined when it checks out. */
function outputProblem(header: ParsedHeader, output: Buffer): string | undefined {
  const { algorithm, originalSize, expectedCrc } = header;
  if (algorithm !== 'none' && originalSize !== undefined && output.length !== originalSize) {
    return `${algorithm} payload decompressed to ${output.length} bytes, header says ${originalSize}: corrupt data`;
  }
  if (expectedCrc !== undefined) {
    const actual = crc32(output);
    if (actual !== expectedCrc) {
      return `checksum mismatch: expected 0x${expectedCrc.toString(16).padStart(8, '0')}, got 0x${actual.toString(16).padStart(8, '0')}`;
    }
  }
  return undefined;
}

async function inflate(header: ParsedHeader): Promise<Buffer> {
  const { algorithm, payload } = header;
  try {
    return algorithm === 'zstd' ? await zstdDecompress(payload) : inflateSync(algorithm, payload);
  } catch (error) {
    throw new CompressionError(`${algorithm} payload does not decompress: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Decompress one value framed by a Rivven `Compressor` (any algorithm, with or without checksum).
 * Throws CompressionError for a broken header, an oversized claim or a checksum mismatch.
 */
export async function decompressValue(data: Uint8Array): Promise<Buffer> {
  const header = readHeader(asBuffer(data));
  if (typeof header === 'string') throw new CompressionError(header);
  const refused = preflight(header);
  if (refused !== undefined) throw new CompressionError(refused);
  const output = await inflate(header);
  const wrong = outputProblem(header, output);
  if (wrong !== undefined) throw new CompressionError(wrong);
  return output;
}

/**
 * `tryDecompressValue` without a Promise, for every value that does not need zstd: the value
 * decompressed, or passed through unchanged when it carries no valid Rivven header (or does not
 * decompress). Returns `undefined` only for a zstd value: use `tryDecompressValue` for those.
 * Consumers call this per record, so the pass-through path allocates nothing and throws nothing.
 */
export function tryDecompressValueSync(data: Uint8Array): Buffer | undefined {
  const value = asBuffer(data);
  const header = readHeader(value);
  if (typeof header === 'string' || preflight(header) !== undefined) return value;
  if (header.algorithm === 'zstd') return undefined;
  let output: Buffer;
  try {
    output = inflateSync(header.algorithm, header.payload);
  } catch {
    return value;
  }
  return outputProblem(header, output) === undefined ? output : value;
}

/**
 * As rivven-client's consumer: values that carry no valid Rivven header (written by a producer
 * without compression) are passed through unchanged.
 */
export async function tryDecompressValue(data: Uint8Array): Promise<Buffer> {
  const done = tryDecompressValueSync(data);
  if (done !== undefined) return done;
  try {
    return await decompressValue(data);
  } catch (error) {
    if (error instanceof CompressionError) return asBuffer(data);
    throw error;
  }
}
