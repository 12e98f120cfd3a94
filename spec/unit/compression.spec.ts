/**
 * Rivven per-value compression framing against rivven-core 0.0.22's Compressor: we decode every Rust
 * output, and Rust (the harness's `check-decompress`) decodes every TypeScript output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CompressionError } from '../../src/errors';
import { compressValue, decompressValue, tryDecompressValue } from '../../src/protocol/compression';
import { MAX_DECOMPRESSED_SIZE, type CompressionAlgorithm } from '../../src/protocol/value-framing';
import { requireHarness } from '../support/harness-binary';
import { readVectorFile, type CompressionVectorFile } from '../support/vectors';

const file = readVectorFile<CompressionVectorFile>('compression.json');
const inputs = Object.fromEntries(Object.entries(file.inputs).map(([k, v]) => [k, Buffer.from(v, 'hex')]));
const algorithms: CompressionAlgorithm[] = ['none', 'lz4', 'zstd', 'snappy'];

describe('compression: Rust → TypeScript', () => {
  it('covers every algorithm, with and without checksum, and the skip paths', () => {
    for (const algorithm of algorithms) {
      for (const checksum of [false, true]) {
        expect(file.vectors.some((v) => v.algorithm === algorithm && v.checksum === checksum)).toBe(true);
      }
    }
    expect(Object.keys(inputs).sort()).toEqual(['empty', 'one_byte', 'random_100k', 'text_100k', 'text_1k', 'text_63', 'text_64']);
  });

  it.each(file.vectors.map((v) => [v.name, v] as const))('decodes %s', async (_name, vector) => {
    const output = Buffer.from(vector.output, 'hex');
    expect((await decompressValue(output)).equals(inputs[vector.input]!)).toBe(true);
  });

  it('frames uncompressed values byte-identically to Rust (none, below min size, ratio threshold)', async () => {
    let compared = 0;
    for (const vector of file.vectors) {
      const input = inputs[vector.input]!;
      const output = Buffer.from(vector.output, 'hex');
      const storedUncompressed = (output[0]! & 0x07) === 0;
      // Adaptive selection (rivven-core's default config) is a Rust-side heuristic we do not mirror.
      if (!storedUncompressed || vector.adaptive) continue;
      const ours = await compressValue(input, {
        algorithm: vector.algorithm,
        checksum: vector.checksum,
        minSize: vector.minSize,
        ratioThreshold: vector.method === 'compress_with' ? Infinity : vector.ratioThreshold,
        uncompressedFraming: 'rivven-core',
      });
      expect(ours.toString('hex')).toBe(vector.output);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(30);
  });
});

describe('compression: TypeScript → Rust', () => {
  it('every TypeScript-compressed value decompresses in rivven-core to the original bytes', async () => {
    const values: { name: string; compressed: string; expected: string }[] = [];
    for (const algorithm of algorithms) {
      for (const checksum of [false, true]) {
        for (const uncompressedFraming of ['checked', 'rivven-core'] as const) {
          for (const [inputName, input] of Object.entries(inputs)) {
            // minSize 0 / ratio ∞ compress everything; the defaults store small and random inputs uncompressed.
            for (const forced of [true, false]) {
              const options = forced ? { algorithm, checksum, uncompressedFraming, minSize: 0, ratioThreshold: Infinity } : { algorithm, checksum, uncompressedFraming };
              const compressed = await compressValue(input, options);
              if (forced && input.length > 0 && algorithm !== 'none') expect(compressed[0]! & 0x07).toBe(algorithms.indexOf(algorithm));
              if (compressed.length > 0 && (compressed[0]! & 0x07) === 0) expect(compressed[0]).toBe(uncompressedFraming === 'checked' ? 0x30 : checksum ? 0x20 : 0x00);
              const name = `${algorithm}/${checksum}/${uncompressedFraming}/${forced ? 'forced' : 'default'}/${inputName}`;
              // An empty value is sent empty: rivven-core's decompress refuses that (its try_decompress returns it as is).
              if (compressed.length > 0) values.push({ name, compressed: compressed.toString('hex'), expected: input.toString('hex') });
              // And we read our own output back.
              expect((await decompressValue(compressed)).equals(input)).toBe(true);
            }
          }
        }
      }
    }
    // Values up to 2 KiB are LZ4-compressed in JavaScript (lz4-block.ts): more shapes and sizes of
    // those, for rivven-core's decoder (lz4_flex) to read.
    for (const length of [13, 17, 40, 100, 333, 1000, 2047, 2048, 2049]) {
      for (const [shape, byte] of [['period 26', (i: number) => 97 + ((i * 7) % 26)], ['runs', (i: number) => (i >> 4) & 3], ['noise', (i: number) => Math.imul(i + 1, 2654435761) >>> 24]] as const) {
        const input = Buffer.from(Array.from({ length }, (_, i) => byte(i)));
        const compressed = await compressValue(input, { algorithm: 'lz4', minSize: 0, ratioThreshold: Infinity });
        expect((await decompressValue(compressed)).equals(input)).toBe(true);
        values.push({ name: `lz4/small/${shape}/${length}`, compressed: compressed.toString('hex'), expected: input.toString('hex') });
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'rivven-rx-compress-'));
    try {
      const path = join(dir, 'values.json');
      writeFileSync(path, JSON.stringify({ values }));
      const run = spawnSync(requireHarness(), ['check-decompress', path], { encoding: 'utf8' });
      const report = JSON.parse(run.stdout.trim().split('\n').pop()!) as { checked: number; ok: number; failures: unknown[] };
      expect(report.failures).toEqual([]);
      expect(report.checked).toBe(values.length);
      expect(report.ok).toBe(values.length);
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compression: hostile input', () => {
  const text = inputs.text_1k!;

  it('reports a CRC mismatch as a typed error', async () => {
    for (const algorithm of algorithms) {
      const framed = await compressValue(text, { algorithm, checksum: true, minSize: 0, ratioThreshold: Infinity });
      const crcAt = 5; // after [flags][size]: our uncompressed frame carries a size too
      framed.writeUInt32LE((framed.readUInt32LE(crcAt) ^ 0xdeadbeef) >>> 0, crcAt);
      await expect(decompressValue(framed)).rejects.toThrow(/checksum mismatch/);
      await expect(decompressValue(framed)).rejects.toBeInstanceOf(CompressionError);
    }
  });

  it('refuses claims over 256 MiB before allocating', async () => {
    const header = Buffer.from([0x11, 0, 0, 0, 0]);
    header.writeUInt32LE(MAX_DECOMPRESSED_SIZE + 1, 1);
    await expect(decompressValue(Buffer.concat([header, Buffer.alloc(16)]))).rejects.toThrow(/over the 268435456-byte limit/);
    // LZ4's own size prefix, with a header that does not say how big.
    const lz4 = Buffer.concat([Buffer.from([0x01]), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(8)]);
    await expect(decompressValue(lz4)).rejects.toThrow(/over the 268435456-byte limit/);
  });

  it('refuses a size the payload cannot expand to (lz4 and snappy)', async () => {
    const lz4 = Buffer.concat([Buffer.from([0x01]), Buffer.from([0x00, 0x00, 0x10, 0x00]), Buffer.alloc(8)]);
    await expect(decompressValue(lz4)).rejects.toThrow(/cannot expand/);
    const snappy = Buffer.from([0x03, 0x80, 0x80, 0x80, 0x01, 0x00]);
    await expect(decompressValue(snappy)).rejects.toThrow(/cannot expand/);
  });

  it('refuses a zstd bomb from its block headers alone', async () => {
    // A frame with no content size and 3,000 RLE blocks of 128 KiB: 12 KB that would expand to 375 MiB.
    const blocks: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const last = i === 2999 ? 1 : 0;
      const header = (128 * 1024) * 8 + (1 << 1) + last;
      blocks.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x41]));
    }
    const frame = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]), ...blocks]);
    const value = Buffer.concat([Buffer.from([0x02]), frame]);
    const started = Date.now();
    await expect(decompressValue(value)).rejects.toThrow(/more than the limit/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports broken headers and unknown algorithms as typed errors', async () => {
    expect((await decompressValue(Buffer.alloc(0))).length).toBe(0);
    await expect(decompressValue(Buffer.from([0x05, 1, 2]))).rejects.toThrow(/unknown compression algorithm id 5/);
    await expect(decompressValue(Buffer.from([0x11, 1, 2]))).rejects.toThrow(/truncated/);
    await expect(decompressValue(Buffer.from([0x21, 1]))).rejects.toThrow(/truncated before its checksum/);
    const garbage = Buffer.concat([Buffer.from([0x13, 10, 0, 0, 0]), Buffer.from('0affffffff', 'hex')]);
    await expect(decompressValue(garbage)).rejects.toBeInstanceOf(CompressionError);
  });

  it("tryDecompressValue ('detect') leaves every value that is not beyond doubt framed unchanged", async () => {
    const plain = Buffer.from([0x07, 0x61, 0x62]);
    expect((await tryDecompressValue(plain)).equals(plain)).toBe(true);
    // The cases: text, the schema-registry magic byte, protobuf's 0x08.
    for (const value of [Buffer.from('Hello, world'), Buffer.from([0x00, 0, 0, 0, 7, 1, 2, 3]), Buffer.from([0x08, 0x96, 0x01])]) {
      expect((await tryDecompressValue(value)).equals(value)).toBe(true);
    }
    // rivven-core's own uncompressed frames: [0x00][data] and [0x20][crc][data] (a CRC alone is not enough).
    const zeroFramed = Buffer.from([0x00, 0x78]);
    expect((await tryDecompressValue(zeroFramed)).equals(zeroFramed)).toBe(true);
    const crcFramed = Buffer.concat([Buffer.from([0x20]), Buffer.alloc(4), Buffer.from('x')]);
    crcFramed.writeUInt32LE(crc32(Buffer.from('x')), 1);
    expect((await tryDecompressValue(crcFramed)).equals(crcFramed)).toBe(true);
    // ...which rivven-core decodes, and so does decompressValue.
    expect((await decompressValue(zeroFramed)).toString()).toBe('x');
    expect((await decompressValue(crcFramed)).toString()).toBe('x');
    // Our own checked frame [0x30][size][crc][data] is decoded.
    const ours = await compressValue(Buffer.from('x'), { algorithm: 'lz4' });
    expect(ours.subarray(0, 5).toString('hex')).toBe('3001000000');
    expect((await tryDecompressValue(ours)).toString()).toBe('x');
  });
});
