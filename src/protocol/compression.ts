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
 * What we write differs from rivven-core in one place: a value stored uncompressed (too small,
 * incompressible, or algorithm 'none') is framed `[0x30][size u32 LE][CRC32 u32 LE][data]` instead
 * of `[0x00][data]`, so that a 'detect' consumer recognises it without mistaking plain values for
 * it (see value-framing.ts). rivven-core's `Compressor::decompress` reads that frame as it is.
 * An empty value is sent empty (any frame of it would be all zeros). `uncompressedFraming:
 * 'rivven-core'` writes rivven-core's exact bytes instead.
 *
 * Which values are framed, and how much decoding may allocate, is decided in value-framing.ts from
 * the headers alone, before anything is inflated: output is bounded at 256 MiB (as in Rust), and a
 * claimed size the payload cannot possibly expand to is refused as corrupt.
 *
 * The codecs are native addons, optionalDependencies of the package: each is loaded (with
 * `createRequire`, see addon-require.ts) the first time a value needs it, never at import. One
 * that is missing or does not load is a CompressionError naming its npm package, thrown by every
 * function here that needs it — `tryDecompressValue*` included: a framed value is never passed on
 * still compressed because its codec is not installed.
 */
import { crc32 } from 'node:zlib';
import { CompressionError } from '../errors.js';
import { requireAddon } from './addon-require.js';
import { compressBlock, compressBlockBound } from './lz4-block.js';
import {
  ALGORITHM_BITS,
  FLAG_HAS_CHECKSUM,
  FLAG_HAS_SIZE,
  planValue,
  type CompressionAlgorithm,
  type ValueHeader,
  type ValuePlan,
} from './value-framing.js';

/** How `compressValue` frames one value (rivven-core `Compressor`'s settings). */
export interface CompressionOptions {
  /** Algorithm to use; `none` frames the value without compressing. */
  algorithm: CompressionAlgorithm;
  /** Append a CRC32 of the uncompressed data to compressed values (rivven-core `checksum`, default false). */
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
  /**
   * How a value stored uncompressed is framed. 'checked' (default): `[0x30][size][CRC32][data]`,
   * which a 'detect' consumer recognises and rivven-core decodes. 'rivven-core': rivven-core's own
   * bytes, `[0x00][data]` (or `[0x20][CRC32][data]` with `checksum`), which only a consumer set to
   * `valueFraming: 'rivven-core'` strips.
   */
  uncompressedFraming?: 'checked' | 'rivven-core';
}

/** Default `minSize`: values shorter than this many bytes are stored uncompressed (rivven-core's). */
export const DEFAULT_MIN_SIZE = 64;
/** Default `ratioThreshold`: a compressed value larger than this fraction of the original is stored uncompressed. */
export const DEFAULT_RATIO_THRESHOLD = 0.95;
/** Default `zstdLevel` (rivven-core's). */
export const DEFAULT_ZSTD_LEVEL = 3;

/** Header of our uncompressed frame: none + size + checksum. */
const CHECKED_UNCOMPRESSED_FLAGS = FLAG_HAS_SIZE | FLAG_HAS_CHECKSUM;

/**
 * What is used of each native addon, by the algorithm it implements. Declared here rather than
 * imported from the packages, so that the published declarations do not name packages that an
 * `--omit=optional` install lacks (`_AddonsConform` checks them against the packages' own types).
 */
interface Addons {
  lz4: {
    compressSync(data: Buffer): Buffer;
    uncompress(data: Buffer): Promise<Buffer>;
    uncompressSync(data: Buffer): Buffer;
  };
  snappy: {
    compressSync(data: Buffer): Buffer;
    uncompress(data: Buffer, options: { asBuffer: true }): Promise<string | Buffer>;
    uncompressSync(data: Buffer, options: { asBuffer: true }): string | Buffer;
  };
  zstd: {
    compress(data: Buffer, level: number): Promise<Buffer>;
    decompress(data: Buffer): Promise<Buffer>;
  };
}
type Compressed = keyof Addons;
/** Fails to compile if a package's declarations stop fitting `Addons` (type-only: not in the build). */
type _Fits<Package extends Shape, Shape> = [Package, Shape];
type _AddonsConform = [
  _Fits<typeof import('lz4-napi'), Addons['lz4']>,
  _Fits<typeof import('snappy'), Addons['snappy']>,
  _Fits<typeof import('@mongodb-js/zstd'), Addons['zstd']>,
];

/** The npm package of each algorithm's addon (optionalDependencies in package.json). */
const ADDON_PACKAGES: Readonly<Record<Compressed, string>> = { lz4: 'lz4-napi', snappy: 'snappy', zstd: '@mongodb-js/zstd' };
/** The functions used from each addon: one without them is as unusable as a missing one. */
const ADDON_FUNCTIONS: Readonly<Record<Compressed, readonly string[]>> = {
  lz4: ['compressSync', 'uncompress', 'uncompressSync'],
  snappy: ['compressSync', 'uncompress', 'uncompressSync'],
  zstd: ['compress', 'decompress'],
};

const loadedAddons: Partial<Addons> = {};
/** Why an addon did not load (not retried: the process keeps the node_modules it started with). */
const addonFailures: Partial<Record<Compressed, unknown>> = {};

/**
 * The addon for `algorithm`, loaded on first use. Throws CompressionError naming the npm package
 * when it is not installed or does not load (no prebuilt binary for this platform, wrong ABI).
 */
function loadAddon<A extends Compressed>(algorithm: A): Addons[A] {
  const loaded = loadedAddons[algorithm];
  if (loaded !== undefined) return loaded;
  const name = ADDON_PACKAGES[algorithm];
  if (!(algorithm in addonFailures)) {
    try {
      const addon = requireAddon(name) as Addons[A];
      const missing = ADDON_FUNCTIONS[algorithm].filter((fn) => typeof (addon as unknown as Record<string, unknown>)[fn] !== 'function');
      if (missing.length > 0) throw new Error(`it has no ${missing.join(', ')}`);
      loadedAddons[algorithm] = addon;
      return addon;
    } catch (error) {
      addonFailures[algorithm] = error;
    }
  }
  const cause = addonFailures[algorithm];
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  throw new CompressionError(
    `${algorithm} compression needs the npm package ${name}, which did not load (${reason}). ` +
      `It is an optional dependency of rivven-rx: install it with \`npm install ${name}\` ` +
      '(`npm install --omit=optional` leaves it out).',
    { cause },
  );
}

function frameUncompressed(data: Uint8Array, options: CompressionOptions): Buffer {
  if ((options.uncompressedFraming ?? 'checked') === 'checked') {
    const out = Buffer.allocUnsafe(9 + data.length);
    out[0] = CHECKED_UNCOMPRESSED_FLAGS;
    out.writeUInt32LE(data.length, 1);
    out.writeUInt32LE(crc32(data), 5);
    out.set(data, 9);
    return out;
  }
  const checksum = options.checksum ?? false;
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
  const payload = await loadAddon('zstd').compress(asBuffer(data), options.zstdLevel ?? DEFAULT_ZSTD_LEVEL);
  return finishCompressed('zstd', data, payload, options);
}

/**
 * `compressValue` without a Promise for none, lz4 and snappy (whose bindings are synchronous):
 * producers frame every record, so a batch need not cost one Promise per value. Returns
 * `undefined` for a zstd value that needs compressing (its binding is async): use `compressValue`.
 */
export function compressValueSync(data: Uint8Array, options: CompressionOptions): Buffer | undefined {
  const minSize = options.minSize ?? DEFAULT_MIN_SIZE;
  if (data.length === 0) {
    // Any frame of an empty value is all zeros, which 'detect' cannot tell from plain data: send
    // empty as empty (rivven-core's `try_decompress` returns it as is).
    return (options.uncompressedFraming ?? 'checked') === 'checked' ? Buffer.alloc(0) : frameUncompressed(data, options);
  }
  if (options.algorithm === 'none' || data.length < minSize) return frameUncompressed(data, options);
  if (data.length > 0xffff_ffff) throw new CompressionError(`value of ${data.length} bytes is too large to compress`);
  switch (options.algorithm) {
    case 'lz4': {
      const lz4 = loadAddon('lz4'); // also for small values: a missing addon fails the same way at every size
      return finishCompressed('lz4', data, data.length <= JS_LZ4_MAX_BYTES ? lz4SmallPayload(data) : lz4.compressSync(asBuffer(data)), options);
    }
    case 'snappy':
      return finishCompressed('snappy', data, loadAddon('snappy').compressSync(asBuffer(data)), options);
    case 'zstd':
      loadAddon('zstd'); // a missing addon throws here, as for lz4 and snappy
      return undefined;
    default:
      throw new CompressionError(`unknown compression algorithm '${String(options.algorithm)}'; use none, lz4, snappy or zstd`);
  }
}

/**
 * Values up to this size are LZ4-compressed in JavaScript (lz4-block.ts): the native call costs
 * ~2 µs however small the value, which for a 100-byte value is 8× the compression itself. Above
 * it, the native codec is faster on compressible data (measured on Node 20: 1 KB 1.2 vs 2.6 µs,
 * 4 KB 4.4 vs 2.4 µs).
 */
const JS_LZ4_MAX_BYTES = 2048;
/**
 * Where small values are compressed; `lz4SmallPayload` returns a view into it. A plain Uint8Array,
 * not a Buffer: its `subarray` skips the species lookup a Buffer's pays on every call.
 */
const lz4Scratch = new Uint8Array(4 + compressBlockBound(JS_LZ4_MAX_BYTES));

/**
 * LZ4 of a small value as lz4_flex's `compress_prepend_size` lays it out (u32 LE length, then the
 * block): what rivven-core and lz4-napi write. A view of the scratch buffer, valid until the next
 * call: `finishCompressed` copies it into the frame at once.
 */
function lz4SmallPayload(data: Uint8Array): Uint8Array {
  const length = data.length; // ≤ JS_LZ4_MAX_BYTES: its top bytes are zero
  lz4Scratch[0] = length & 0xff;
  lz4Scratch[1] = length >>> 8;
  lz4Scratch[2] = 0;
  lz4Scratch[3] = 0;
  return lz4Scratch.subarray(0, compressBlock(data, lz4Scratch, 4));
}

/** Keep the compressed payload only if it saves enough (rivven-core's ratio threshold). */
function finishCompressed(algorithm: CompressionAlgorithm, data: Uint8Array, payload: Uint8Array, options: CompressionOptions): Buffer {
  const ratioThreshold = options.ratioThreshold ?? DEFAULT_RATIO_THRESHOLD;
  if (payload.length / data.length > ratioThreshold) return frameUncompressed(data, options);
  return frameCompressed(algorithm, data, payload, options.checksum ?? false);
}

/** A codec's failure as the typed error. */
function codecError(algorithm: CompressionAlgorithm, error: unknown): CompressionError {
  return new CompressionError(`${algorithm} payload does not decompress: ${(error as Error).message}`, { cause: error });
}

/** A decoder for one payload, from its loaded addon. */
type SyncDecoder = (payload: Buffer) => Buffer;
type AsyncDecoder = (payload: Buffer) => Promise<Buffer>;

/** This thread's decoder for `algorithm` (zstd's binding is async only); loads its addon. */
function syncDecoder(algorithm: CompressionAlgorithm): SyncDecoder {
  switch (algorithm) {
    case 'none':
      return (payload) => payload;
    case 'lz4': {
      const lz4 = loadAddon('lz4');
      return (payload) => lz4.uncompressSync(payload);
    }
    case 'snappy': {
      const snappy = loadAddon('snappy');
      return (payload) => snappy.uncompressSync(payload, { asBuffer: true }) as Buffer;
    }
    case 'zstd':
      return () => {
        throw new Error('zstd has no synchronous decoder here');
      };
  }
}

/** The libuv thread pool's decoder for `algorithm` (every algorithm); loads its addon. */
function asyncDecoder(algorithm: CompressionAlgorithm): AsyncDecoder {
  switch (algorithm) {
    case 'none':
      return (payload) => Promise.resolve(payload);
    case 'lz4': {
      const lz4 = loadAddon('lz4');
      return (payload) => lz4.uncompress(payload);
    }
    case 'snappy': {
      const snappy = loadAddon('snappy');
      return async (payload) => (await snappy.uncompress(payload, { asBuffer: true })) as Buffer;
    }
    case 'zstd': {
      const zstd = loadAddon('zstd');
      return (payload) => zstd.decompress(payload);
    }
  }
}

/**
 * Load the addon `algorithm` needs (nothing for none), so that a producer configured for it fails
 * when it is created rather than at its first value of 64 bytes or more. Throws CompressionError
 * naming the npm package when it is missing.
 */
export function requireCompressor(algorithm: CompressionAlgorithm): void {
  if (algorithm !== 'none') loadAddon(algorithm);
}

/**
 * Load the addon a header's algorithm needs (nothing for none). Throws CompressionError naming
 * the npm package when it is missing: callers that pass a value unchanged on a codec failure
 * ('detect') call this first, so that a missing addon is never mistaken for a value that is not framed.
 */
export function requireDecoder(header: ValueHeader): void {
  if (header.algorithm !== 'none') loadAddon(header.algorithm);
}

/**
 * Inflate a header's payload on this thread (none, lz4, snappy; zstd's binding is async only).
 * Throws CompressionError when the codec refuses the payload or its addon does not load.
 */
export function inflateSync(header: ValueHeader): Buffer {
  const decode = syncDecoder(header.algorithm);
  try {
    return decode(header.payload);
  } catch (error) {
    throw codecError(header.algorithm, error);
  }
}

/**
 * Inflate a header's payload on the libuv thread pool (every algorithm). Throws CompressionError
 * when the codec refuses the payload or its addon does not load.
 */
export async function inflateAsync(header: ValueHeader): Promise<Buffer> {
  const decode = asyncDecoder(header.algorithm);
  try {
    return await decode(header.payload);
  } catch (error) {
    throw codecError(header.algorithm, error);
  }
}

/** Why an output is not the size its plan requires, or undefined. */
export function sizeProblem(header: ValueHeader, exactSize: number | undefined, output: Buffer): string | undefined {
  if (exactSize === undefined || output.length === exactSize) return undefined;
  return `${header.algorithm} payload decompressed to ${output.length} bytes, header says ${exactSize}: corrupt data`;
}

/** The message for a CRC32 that does not match. */
export function checksumProblem(expected: number, actual: number): string {
  return `checksum mismatch: expected 0x${expected.toString(16).padStart(8, '0')}, got 0x${actual.toString(16).padStart(8, '0')}`;
}

/** Why an output fails its plan's size or checksum, or undefined when it checks out. */
function outputProblem(plan: Extract<ValuePlan, { action: 'decode' }>, output: Buffer): string | undefined {
  const wrongSize = sizeProblem(plan.header, plan.exactSize, output);
  if (wrongSize !== undefined) return wrongSize;
  const expected = plan.header.expectedCrc;
  if (expected === undefined) return undefined;
  const actual = crc32(output);
  return actual === expected ? undefined : checksumProblem(expected, actual);
}

/**
 * Decompress one value framed by a rivven-core `Compressor` (any algorithm, with or without
 * checksum; as `Compressor::decompress`). Throws CompressionError for a broken header, an
 * oversized claim or a checksum mismatch; an empty value is returned empty. For fetched values prefer `decodeValues`
 * (src/protocol/value-decoder.ts), which bounds memory and keeps the event loop free.
 */
export async function decompressValue(data: Uint8Array): Promise<Buffer> {
  const plan = planValue(asBuffer(data), 'rivven-core');
  if (plan.action === 'fail') throw new CompressionError(plan.reason);
  if (plan.action === 'pass') return asBuffer(data);
  const output = plan.header.algorithm === 'zstd' ? await inflateAsync(plan.header) : inflateSync(plan.header);
  const wrong = outputProblem(plan, output);
  if (wrong !== undefined) throw new CompressionError(wrong);
  return output;
}

/**
 * The 'detect' rule (value-framing.ts) on one value, without a Promise where no zstd is involved:
 * the decoded value when it is, beyond reasonable doubt, framed; otherwise the value unchanged.
 * Returns `undefined` only for a zstd-framed value: use `tryDecompressValue` for those. Throws
 * only a CompressionError naming the npm package when a framed value's codec addon is not
 * installed (the value would otherwise be passed on still compressed).
 */
export function tryDecompressValueSync(data: Uint8Array): Buffer | undefined {
  const value = asBuffer(data);
  const plan = planValue(value, 'detect');
  if (plan.action === 'pass') return value;
  if (plan.action !== 'decode') return value; // 'detect' never fails
  requireDecoder(plan.header);
  if (plan.header.algorithm === 'zstd') return undefined;
  let output: Buffer;
  try {
    output = inflateSync(plan.header);
  } catch {
    return value;
  }
  return outputProblem(plan, output) === undefined ? output : value;
}

/**
 * A value as its producer sent it, by the 'detect' rule: decoded only when it is, beyond
 * reasonable doubt, Rivven-framed (a size-declaring header whose sizes agree and whose payload
 * decodes to exactly that size, CRC included); any other value — including `[0x00][data]` — is
 * returned unchanged. Rejects only with a CompressionError naming the npm package when a framed
 * value's codec addon is not installed.
 */
export async function tryDecompressValue(data: Uint8Array): Promise<Buffer> {
  const done = tryDecompressValueSync(data);
  if (done !== undefined) return done;
  const value = asBuffer(data);
  const plan = planValue(value, 'detect');
  if (plan.action !== 'decode') return value;
  let output: Buffer;
  try {
    output = await inflateAsync(plan.header);
  } catch {
    return value;
  }
  return outputProblem(plan, output) === undefined ? output : value;
}
