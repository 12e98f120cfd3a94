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
  const checksum = options.checksum ?? false;
  const minSize = options.minSize ?? DEFAULT_MIN_SIZE;
  const ratioThreshold = options.ratioThreshold ?? DEFAULT_RATIO_THRESHOLD;
  if (options.algorithm === 'none' || data.length < minSize) return frameUncompressed(data, checksum);
  if (data.length > 0xffff_ffff) throw new CompressionError(`value of ${data.length} bytes is too large to compress`);
  const input = asBuffer(data);
  let payload: Buffer;
  switch (options.algorithm) {
    case 'lz4':
      payload = lz4Compress(input);
      break;
    case 'snappy':
      payload = snappyCompress(input);
      break;
    case 'zstd':
      payload = await zstdCompress(input, options.zstdLevel ?? DEFAULT_ZSTD_LEVEL);
      break;
    default:
      throw new CompressionError(`unknown compression algorithm '${String(options.algorithm)}'; use none, lz4, snappy or zstd`);
  }
  if (payload.length / data.length > ratioThreshold) return frameUncompressed(data, checksum);
  return frameCompressed(options.algorithm, data, payload, checksum);
}

interface ParsedHeader {
  algorithm: CompressionAlgorithm;
  originalSize: number | undefined;
  expectedCrc: number | undefined;
  payload: Buffer;
}

function parseHeader(value: Buffer): ParsedHeader {
  if (value.length === 0) throw new CompressionError('empty value has no compression header');
  const flags = value[0]!;
  const algorithm = ALGORITHM_BY_BITS[flags & 0x07];
  if (algorithm === undefined) throw new CompressionError(`unknown compression algorithm id ${flags & 0x07} in value header`);
  let offset = 1;
  let originalSize: number | undefined;
  let expectedCrc: number | undefined;
  if (flags & FLAG_HAS_SIZE) {
    if (value.length < offset + 4) throw new CompressionError('value header truncated before its size field');
    originalSize = value.readUInt32LE(offset);
    offset += 4;
    if (originalSize > MAX_DECOMPRESSED_SIZE) {
      throw new CompressionError(`value claims ${originalSize} bytes uncompressed, over the ${MAX_DECOMPRESSED_SIZE}-byte limit`);
    }
  }
  if (flags & FLAG_HAS_CHECKSUM) {
    if (value.length < offset + 4) throw new CompressionError('value header truncated before its checksum');
    expectedCrc = value.readUInt32LE(offset);
    offset += 4;
  }
  return { algorithm, originalSize, expectedCrc, payload: value.subarray(offset) };
}

function checkClaim(claimed: number, payloadLength: number, maxRatio: number, originalSize: number | undefined, what: string): void {
  if (claimed > MAX_DECOMPRESSED_SIZE) {
    throw new CompressionError(`${what} payload claims ${claimed} bytes, over the ${MAX_DECOMPRESSED_SIZE}-byte limit`);
  }
  if (claimed > payloadLength * maxRatio + RATIO_SLACK) {
    throw new CompressionError(`${what} payload of ${payloadLength} bytes cannot expand to the ${claimed} bytes it claims: corrupt data`);
  }
  if (originalSize !== undefined && claimed !== originalSize) {
    throw new CompressionError(`${what} payload size ${claimed} disagrees with the header's ${originalSize}: corrupt data`);
  }
}

/** Read a snappy raw stream's uncompressed-length varint without decoding anything. */
function snappyClaimedLength(payload: Buffer): number {
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 5 && i < payload.length; i++) {
    const byte = payload[i]!;
    result += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return result;
    multiplier *= 0x80;
  }
  throw new CompressionError('snappy payload has a malformed length header');
}

/**
 * Decompress one value framed by a Rivven `Compressor` (any algorithm, with or without checksum).
 * Throws CompressionError for a broken header, an oversized claim or a checksum mismatch.
 */
export async function decompressValue(data: Uint8Array): Promise<Buffer> {
  const { algorithm, originalSize, expectedCrc, payload } = parseHeader(asBuffer(data));
  let output: Buffer;
  try {
    switch (algorithm) {
      case 'none':
        output = payload;
        break;
      case 'lz4': {
        if (payload.length < 4) throw new CompressionError('lz4 payload shorter than its size prefix');
        checkClaim(payload.readUInt32LE(0), payload.length, LZ4_MAX_RATIO, originalSize, 'lz4');
        output = lz4Decompress(payload);
        break;
      }
      case 'snappy':
        checkClaim(snappyClaimedLength(payload), payload.length, SNAPPY_MAX_RATIO, originalSize, 'snappy');
        output = snappyDecompress(payload, { asBuffer: true }) as Buffer;
        break;
      case 'zstd': {
        const bound = zstdOutputBound(payload, MAX_DECOMPRESSED_SIZE);
        if (!bound.ok) throw new CompressionError(`zstd payload rejected: ${bound.reason}`);
        if (originalSize !== undefined && bound.declaredContentSize !== undefined && bound.declaredContentSize !== originalSize) {
          throw new CompressionError(`zstd frame size ${bound.declaredContentSize} disagrees with the header's ${originalSize}: corrupt data`);
        }
        output = await zstdDecompress(payload);
        break;
      }
    }
  } catch (error) {
    if (error instanceof CompressionError) throw error;
    throw new CompressionError(`${algorithm} payload does not decompress: ${(error as Error).message}`, { cause: error });
  }
  if (algorithm !== 'none' && originalSize !== undefined && output.length !== originalSize) {
    throw new CompressionError(`${algorithm} payload decompressed to ${output.length} bytes, header says ${originalSize}: corrupt data`);
  }
  if (expectedCrc !== undefined) {
    const actual = crc32(output);
    if (actual !== expectedCrc) {
      throw new CompressionError(
        `checksum mismatch: expected 0x${expectedCrc.toString(16).padStart(8, '0')}, got 0x${actual.toString(16).padStart(8, '0')}`,
      );
    }
  }
  return output;
}

/**
 * As rivven-client's consumer: values that carry no valid Rivven header (written by a producer
 * without compression) are passed through unchanged.
 */
export async function tryDecompressValue(data: Uint8Array): Promise<Buffer> {
  try {
    return await decompressValue(data);
  } catch (error) {
    if (error instanceof CompressionError) return asBuffer(data);
    throw error;
  }
}
