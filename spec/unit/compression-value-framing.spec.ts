/**
 * The value-framing rule (src/protocol/value-framing.ts) through `decodeValues`: under 'detect' a
 * value comes back exactly as it was sent unless it is, beyond reasonable doubt, framed; everything
 * our compressing producer writes reads back byte-identical; 'rivven-core' decodes every rivven-core
 * frame and refuses broken ones with a typed error; 'raw' never alters.
 */
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { compressSync as lz4Compress } from 'lz4-napi';
import { compressSync as snappyCompress } from 'snappy';
import { CompressionError } from '../../src/errors';
import { compressValue, tryDecompressValue, tryDecompressValueSync } from '../../src/protocol/compression';
import { DETECTED_FLAGS, planValue, type CompressionAlgorithm, type ValueFraming } from '../../src/protocol/value-framing';
import { decodeValues } from '../../src/protocol/value-decoder';

const algorithms: CompressionAlgorithm[] = ['none', 'lz4', 'zstd', 'snappy'];
const UNLIMITED = Number.MAX_SAFE_INTEGER;

async function decodeOne(value: Buffer, framing: ValueFraming): Promise<Buffer> {
  const { decoded } = await decodeValues([value], { framing, budgetBytes: UNLIMITED });
  expect(decoded).toHaveLength(1);
  return decoded[0]!;
}

/** Plain values people send: random bytes, zeros, text, protobuf-ish and schema-registry-ish bytes. */
const restOfValue = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.nat({ max: 300 }).map((n) => new Uint8Array(n)),
  fc.string({ maxLength: 200 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })).map(([id, rest]) => {
    const out = Buffer.alloc(4 + rest.length);
    out.writeUInt32BE(id >>> 0);
    out.set(rest, 4);
    return new Uint8Array(out);
  }),
);

describe("'detect': a plain value comes back exactly as it was sent", () => {
  it('values that start like a frame by chance: "Hello, world", the schema-registry magic byte, protobuf, every small flag-like byte', async () => {
    const examples = [
      Buffer.from('Hello, world'),
      Buffer.from([0x00, 0x00, 0x00, 0x00, 0x2a, 0x02, 0x68, 0x69]),
      Buffer.from([0x08, 0x96, 0x01, 0x12, 0x03, 0x61, 0x62, 0x63]),
      ...[0x00, 0x08, 0x40, 0x48, 0x80, 0x88, 0xc0, 0xc8].map((b) => Buffer.from([b, 0x61, 0x62, 0x63])),
    ];
    for (const value of examples) {
      expect((await decodeOne(value, 'detect')).equals(value)).toBe(true);
      expect((await tryDecompressValue(value)).equals(value)).toBe(true);
    }
  });

  it('every first byte 0–255, followed by arbitrary bytes, zeros, text or a schema id', async () => {
    for (let first = 0; first < 256; first++) {
      await fc.assert(
        fc.asyncProperty(restOfValue, async (rest) => {
          const value = Buffer.concat([Buffer.from([first]), rest]);
          const copy = Buffer.from(value);
          const out = await decodeOne(value, 'detect');
          expect(out.equals(copy)).toBe(true);
          expect(tryDecompressValueSync(value)?.equals(copy) ?? true).toBe(true);
        }),
        { numRuns: 25 },
      );
    }
  });

  it('values whose size fields agree by construction but whose payload is arbitrary are left alone or decode to exactly that size', async () => {
    const header = (flags: number, size: number) => {
      const out = Buffer.alloc(5);
      out[0] = flags;
      out.writeUInt32LE(size, 1);
      return out;
    };
    const forged = fc.oneof(
      // LZ4: header size = LZ4 prefix.
      fc.tuple(fc.nat({ max: 5000 }), fc.uint8Array({ maxLength: 200 })).map(([size, rest]) => {
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32LE(size);
        return { size, value: Buffer.concat([header(0x11, size), prefix, rest]) };
      }),
      // Snappy: header size = length preamble (one-byte varint).
      fc.tuple(fc.nat({ max: 127 }), fc.uint8Array({ maxLength: 200 })).map(([size, rest]) => ({
        size,
        value: Buffer.concat([header(0x13, size), Buffer.from([size]), rest]),
      })),
      // Zstd: magic number after the header.
      fc.tuple(fc.nat({ max: 5000 }), fc.uint8Array({ maxLength: 200 })).map(([size, rest]) => ({
        size,
        value: Buffer.concat([header(0x12, size), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), rest]),
      })),
      // Our uncompressed frame with the right size but an arbitrary CRC.
      fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 200 })).map(([crc, rest]) => {
        const crcBytes = Buffer.alloc(4);
        crcBytes.writeUInt32LE(crc >>> 0);
        return { size: rest.length, value: Buffer.concat([header(0x30, rest.length), crcBytes, rest]) };
      }),
    );
    await fc.assert(
      fc.asyncProperty(forged, async ({ size, value }) => {
        const copy = Buffer.from(value);
        const out = await decodeOne(value, 'detect');
        if (!out.equals(copy)) expect(out.length).toBe(size);
      }),
      { numRuns: 2000 },
    );
  });

  it('the measured odds behind docs/value-framing.md: random Snappy payloads whose sizes agree rarely decode (p ≈ 2^-16)', () => {
    // The weakest first byte, 0x13: given header size = length preamble (a 2^-32 coincidence for a
    // plain value), the rest must also be a valid Snappy stream of exactly that length.
    let x = 0x9e3779b9;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
    let decodedCount = 0;
    const samples = 30_000;
    for (let n = 0; n < samples; n++) {
      const payload = Buffer.alloc(2 + (n % 30));
      for (let i = 0; i < payload.length; i++) payload[i] = next();
      payload[0]! &= 0x7f; // a one-byte preamble
      const value = Buffer.concat([Buffer.from([0x13, payload[0]!, 0, 0, 0]), payload]);
      if (tryDecompressValueSync(value) !== value) decodedCount++;
    }
    // 30,000 × ~1.5e-5 ≈ 0.5 expected (seeded, so deterministic).
    expect(decodedCount).toBeLessThanOrEqual(5);
  });

  it("leaves rivven-core's own uncompressed frames ([0x00][data], [0x20][crc][data]) alone: they are not beyond doubt", async () => {
    const data = Buffer.from('x'.repeat(40));
    const zero = await compressValue(data, { algorithm: 'lz4', uncompressedFraming: 'rivven-core' });
    const crcFramed = await compressValue(data, { algorithm: 'lz4', checksum: true, uncompressedFraming: 'rivven-core' });
    expect(zero[0]).toBe(0x00);
    expect(crcFramed[0]).toBe(0x20);
    expect((await decodeOne(zero, 'detect')).equals(zero)).toBe(true);
    expect((await decodeOne(crcFramed, 'detect')).equals(crcFramed)).toBe(true);
    expect((await decodeOne(zero, 'rivven-core')).equals(data)).toBe(true);
    expect((await decodeOne(crcFramed, 'rivven-core')).equals(data)).toBe(true);
  });

  it('never decodes all-zero values or runs of one repeated byte, up to 4 MiB', async () => {
    for (const byte of [0x00, ...DETECTED_FLAGS]) {
      for (const size of [1, 5, 9, 10, 13, 64, 1000, 70_000, 4 * 1024 * 1024]) {
        const value = Buffer.alloc(size, byte);
        expect(planValue(value, 'detect').action).toBe('pass');
        expect((await decodeOne(value, 'detect')).equals(value)).toBe(true);
      }
    }
  });

  it('only the seven size-declaring first bytes are ever considered', () => {
    expect([...DETECTED_FLAGS].sort((a, b) => a - b)).toEqual([0x11, 0x12, 0x13, 0x30, 0x31, 0x32, 0x33]);
    const rest = Buffer.alloc(64, 0x41);
    for (let first = 0; first < 256; first++) {
      const plan = planValue(Buffer.concat([Buffer.from([first]), rest]), 'detect');
      if (!DETECTED_FLAGS.includes(first)) expect(plan.action).toBe('pass');
    }
  });
});

describe('what our compressing producer writes reads back byte-identical', () => {
  const sizes = fc.oneof(fc.nat({ max: 80 }), fc.nat({ max: 4096 }), fc.integer({ min: 60_000, max: 300_000 }));
  const data = fc.oneof(
    sizes.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })), // incompressible
    sizes.map((n) => new Uint8Array(Buffer.alloc(n, 'rivven rx '))), // compressible
    fc.tuple(sizes, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([n, seed]) => {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = seed[i % seed.length]! ^ (i & 0x0f);
      return new Uint8Array(out);
    }),
  );

  it('under detect and under rivven-core, every algorithm, with and without checksum, at every size', async () => {
    await fc.assert(
      fc.asyncProperty(data, fc.constantFrom(...algorithms), fc.boolean(), async (input, algorithm, checksum) => {
        const framed = await compressValue(input, { algorithm, checksum });
        const expected = Buffer.from(input);
        expect((await decodeOne(framed, 'detect')).equals(expected)).toBe(true);
        expect((await decodeOne(framed, 'rivven-core')).equals(expected)).toBe(true);
        expect((await tryDecompressValue(framed)).equals(expected)).toBe(true);
        expect((await decodeOne(framed, 'raw')).equals(framed)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('small and incompressible values get the checked frame [0x30][size][crc][data]', async () => {
    expect((await compressValue(Buffer.alloc(0), { algorithm: 'lz4' })).length).toBe(0); // empty is sent empty
    for (const input of [Buffer.from('x'), Buffer.from('Hello, world'), Buffer.from([0x00, 1, 2, 3])]) {
      const framed = await compressValue(input, { algorithm: 'lz4' });
      expect(framed[0]).toBe(0x30);
      expect(framed.readUInt32LE(1)).toBe(input.length);
      expect(framed.readUInt32LE(5)).toBe(crc32(input));
      expect(framed.subarray(9).equals(input)).toBe(true);
    }
  });
});

describe("'rivven-core': every rivven-core frame decodes; broken frames are typed errors", () => {
  it('decodes what a rivven-core Compressor writes: [0x00][data], [0x20][crc][data] and compressed frames', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom(...algorithms), fc.boolean(), async (input, algorithm, checksum) => {
        const framed = await compressValue(input, { algorithm, checksum, uncompressedFraming: 'rivven-core' });
        expect((await decodeOne(framed, 'rivven-core')).equals(Buffer.from(input))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses unknown algorithms, truncated headers, bad checksums and corrupt payloads', async () => {
    const text = Buffer.from('rivven '.repeat(40));
    const lz4 = Buffer.concat([Buffer.from([0x11, 0, 0, 0, 0]), lz4Compress(text)]);
    lz4.writeUInt32LE(text.length, 1);
    const badCrc = await compressValue(text, { algorithm: 'snappy', checksum: true });
    badCrc.writeUInt32LE((badCrc.readUInt32LE(5) ^ 1) >>> 0, 5);
    const corrupt = Buffer.from(lz4);
    corrupt.fill(0xff, 12, 20);
    const snappyTruncated = Buffer.concat([Buffer.from([0x13, 0, 0, 0, 0]), snappyCompress(text).subarray(0, 20)]);
    snappyTruncated.writeUInt32LE(text.length, 1);
    const broken = [Buffer.from([0x05, 1, 2]), Buffer.from([0x11, 1, 2]), Buffer.from([0x21, 1]), badCrc, corrupt, snappyTruncated];
    for (const value of broken) {
      await expect(decodeValues([value], { framing: 'rivven-core', budgetBytes: UNLIMITED })).rejects.toBeInstanceOf(CompressionError);
      // The same bytes are left alone under detect.
      expect((await decodeOne(value, 'detect')).equals(value)).toBe(true);
    }
    await expect(decodeValues([lz4, badCrc], { framing: 'rivven-core', budgetBytes: UNLIMITED })).rejects.toThrow(/value 2 of 2 .*checksum mismatch/);
    // An empty value (no Compressor writes one) stays empty.
    expect((await decodeOne(Buffer.alloc(0), 'rivven-core')).length).toBe(0);
  });
});

describe("'raw' never alters", () => {
  it('returns every value as it is', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), async (inputs) => {
        const values = inputs.map((v) => Buffer.from(v));
        const { decoded } = await decodeValues(values, { framing: 'raw', budgetBytes: UNLIMITED });
        expect(decoded).toEqual(values);
      }),
    );
  });
});
