import fc from 'fast-check';
import { uncompressSync } from 'lz4-napi';
import { compressBlock, compressBlockBound } from '../../src/protocol/lz4-block';

/** As lz4_flex's `compress_prepend_size` (what rivven-core and lz4-napi write): u32 LE length, then the block. */
function compressPrependSize(input: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + compressBlockBound(input.length));
  out.writeUInt32LE(input.length, 0);
  return out.subarray(0, compressBlock(input, out, 4));
}

/**
 * Walk a block's sequences and check the rules of the LZ4 block format a strict decoder (liblz4)
 * relies on: the last sequence is literals only, the last 5 bytes are literals, no match starts in
 * the last 12 bytes, every offset is 1…65,535 and reaches back into what is already decoded.
 */
function checkBlockRules(block: Buffer, inputLength: number): void {
  let at = 0;
  let produced = 0;
  const readLength = (nibble: number): number => {
    let length = nibble;
    if (nibble === 15) {
      let byte: number;
      do {
        byte = block[at++]!;
        length += byte;
      } while (byte === 255);
    }
    return length;
  };
  for (;;) {
    const token = block[at++]!;
    const literals = readLength(token >> 4);
    at += literals;
    produced += literals;
    if (at === block.length) {
      expect(token & 0x0f).toBe(0);
      if (inputLength >= 13) expect(literals).toBeGreaterThanOrEqual(5);
      break;
    }
    const offset = block[at]! | (block[at + 1]! << 8);
    at += 2;
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(produced);
    expect(produced).toBeLessThanOrEqual(inputLength - 12); // the match starts ≥ 12 bytes before the end
    produced += readLength(token & 0x0f) + 4;
    expect(produced).toBeLessThanOrEqual(inputLength - 5);
  }
  expect(produced).toBe(inputLength);
}

// Data with the structure real values have: repeats at short and long distances, runs, and noise.
const patterned = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 600 })).map(([b, n]) => new Uint8Array(n).fill(b)),
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 80 })).map(([unit, times]) => {
        const out = new Uint8Array(unit.length * times);
        for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
        return out;
      }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts));

describe('LZ4 block compression (JavaScript, for small values)', () => {
  it('decompresses with the native codec to exactly the input, within the bound (property)', () => {
    fc.assert(
      fc.property(fc.oneof(patterned, fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a))), (input) => {
        const compressed = compressPrependSize(input);
        expect(compressed.length).toBeLessThanOrEqual(4 + compressBlockBound(input.length));
        expect(Buffer.compare(uncompressSync(compressed), input)).toBe(0);
        checkBlockRules(compressed.subarray(4), input.length);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps the format end rules at every short length (last 5 bytes literal, no match in the last 12)', () => {
    for (let length = 0; length <= 40; length++) {
      for (const input of [Buffer.alloc(length, 0x61), Buffer.from(Array.from({ length }, (_, i) => i % 3))]) {
        const compressed = compressPrependSize(input);
        expect(uncompressSync(compressed).equals(input)).toBe(true);
        checkBlockRules(compressed.subarray(4), length);
      }
    }
  });

  it('never refers further back than 65,535 bytes', () => {
    // The same 1 KiB block 70 KiB apart, noise in between: a match across that gap would be invalid.
    const unit = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 31) & 0xff));
    const noise = Buffer.from(Array.from({ length: 70_000 }, (_, i) => Math.imul(i, 2654435761) >>> 24));
    const input = Buffer.concat([unit, noise, unit, unit]);
    expect(uncompressSync(compressPrependSize(input)).equals(input)).toBe(true);
  });

  it('compresses what repeats (a value of the benchmark shape to well under its size)', () => {
    const value = Buffer.from(Array.from({ length: 100 }, (_, i) => 97 + ((i * 7) % 26)));
    expect(compressPrependSize(value).length).toBeLessThan(60);
  });

  it('gives the same bytes for the same input whatever came before (no state leaks between calls)', () => {
    const input = Buffer.from('abcabcabcabcabcabcabc-the-same-value-abcabcabcabc');
    const first = compressPrependSize(input);
    for (let i = 0; i < 50; i++) compressPrependSize(Buffer.from(`other ${i} other ${i} other ${i} other`));
    expect(compressPrependSize(input).equals(first)).toBe(true);
  });
});
