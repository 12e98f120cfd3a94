/**
 * The synchronous fast paths of compression (used per record by producers and consumers) must
 * agree byte for byte with the async API they shortcut, on valid, invalid and random values.
 */
import fc from 'fast-check';
import {
  compressValue,
  compressValueSync,
  tryDecompressValue,
  tryDecompressValueSync,
} from '../../src/protocol/compression.js';
import type { CompressionAlgorithm } from '../../src/protocol/value-framing.js';

const algorithms: CompressionAlgorithm[] = ['none', 'lz4', 'snappy', 'zstd'];

describe('compression fast paths', () => {
  it('compressValueSync equals compressValue for none/lz4/snappy and defers zstd', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(...algorithms), fc.boolean(), async (data, algorithm, checksum) => {
        const sync = compressValueSync(data, { algorithm, checksum });
        const async = await compressValue(data, { algorithm, checksum });
        if (algorithm === 'zstd' && data.length >= 64) expect(sync).toBeUndefined();
        else expect(sync?.equals(async)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('tryDecompressValueSync equals tryDecompressValue on framed and on arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(...algorithms), fc.boolean(), async (data, algorithm, frame) => {
        const value = frame ? await compressValue(data, { algorithm, checksum: true }) : Buffer.from(data);
        const expected = await tryDecompressValue(value);
        const sync = tryDecompressValueSync(value);
        if (sync === undefined) expect(value[0]! & 0x07).toBe(2); // only zstd defers
        else expect(sync.equals(expected)).toBe(true);
        if (frame) expect(expected.equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
