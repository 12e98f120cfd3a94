import fc from 'fast-check';
import { ProtocolError } from '../../src/errors';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/protocol/message-codec';
import { PostcardReader } from '../../src/protocol/postcard-reader';
import { PostcardWriter } from '../../src/protocol/postcard-writer';
import { batchRecordList, bytes, compile, option, struct, vec } from '../../src/protocol/schema';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function written(fn: (w: PostcardWriter) => void): string {
  const w = new PostcardWriter();
  fn(w);
  return w.finish().toString('hex');
}

describe('postcard primitives', () => {
  it('writes LEB128 varints at every width boundary', () => {
    expect(written((w) => w.varint(0))).toBe('00');
    expect(written((w) => w.varint(127))).toBe('7f');
    expect(written((w) => w.varint(128))).toBe('8001');
    expect(written((w) => w.varint(0xffff_ffff))).toBe('ffffffff0f');
    expect(written((w) => w.varint(Number.MAX_SAFE_INTEGER))).toBe('ffffffffffffff0f');
    expect(written((w) => w.varintBig((1n << 64n) - 1n))).toBe('ffffffffffffffffff01');
  });

  it('zigzags signed integers as serde/postcard do', () => {
    expect(written((w) => w.zigzag32(0))).toBe('00');
    expect(written((w) => w.zigzag32(-1))).toBe('01');
    expect(written((w) => w.zigzag32(1))).toBe('02');
    expect(written((w) => w.zigzag32(-0x8000_0000))).toBe('ffffffff0f');
    expect(written((w) => w.zigzag64(-(1n << 63n)))).toBe('ffffffffffffffffff01');
    expect(written((w) => w.zigzag64((1n << 63n) - 1n))).toBe('feffffffffffffffff01');
  });

  it('reads back u64::MAX, i64::MIN and i32::MIN exactly', () => {
    expect(new PostcardReader(hex('ffffffffffffffffff01')).varintBig('x')).toBe((1n << 64n) - 1n);
    expect(new PostcardReader(hex('ffffffffffffffffff01')).zigzag64('x')).toBe(-(1n << 63n));
    expect(new PostcardReader(hex('ffffffff0f')).zigzag32('x')).toBe(-0x8000_0000);
  });

  it('rejects a varint longer than its type or overflowing its last byte', () => {
    expect(() => new PostcardReader(hex('ffffffff10')).varint(32, 'u32')).toThrow(/out of range/);
    expect(() => new PostcardReader(hex('ffffffffff01')).varint(32, 'u32')).toThrow(/longer than 5 bytes/);
    expect(() => new PostcardReader(hex('ffff04')).varint(16, 'u16')).toThrow(/out of range/);
    expect(() => new PostcardReader(hex('ffffffffffffffffff02')).varintBig('u64')).toThrow(/overflows/);
    expect(() => new PostcardReader(hex('ffffffffffffffffffff01')).varintBig('u64')).toThrow(/longer than 10 bytes/);
    expect(() => new PostcardReader(hex('8080')).varint(32, 'u32')).toThrow(/truncated varint/);
  });

  it('rejects bad bool and option bytes and invalid UTF-8', () => {
    expect(() => new PostcardReader(hex('02')).bool('flag')).toThrow(/invalid bool/);
    expect(() => new PostcardReader(hex('02')).optionTag('opt')).toThrow(/invalid option tag/);
    expect(() => new PostcardReader(hex('02c328')).string('name')).toThrow(/not valid UTF-8/);
    expect(new PostcardReader(hex('0bc3a96cc3a8766520e29c93')).string('s')).toBe('élève ✓');
  });

  it('refuses a length larger than the bytes left before allocating', () => {
    expect(() => new PostcardReader(hex('ffffffff0f00')).bytes('value')).toThrow(ProtocolError);
    expect(() => new PostcardReader(hex('ffffffff0f00')).count('messages', 100_000)).toThrow(/more than the protocol's limit/);
    expect(() => new PostcardReader(hex('0500')).count('topics', 10_000)).toThrow(/only 1 bytes are left/);
  });
});

describe('message codec edge cases', () => {
  it('encodes unit variants as their index alone', () => {
    expect(encodeRequest({ type: 'Ping' }).toString('hex')).toBe('0d');
    expect(encodeRequest({ type: 'ListTopics' }).toString('hex')).toBe('07');
    expect(decodeResponse(hex('0c'))).toEqual({ type: 'Pong' });
  });

  it('distinguishes None, Some(empty) and Some(data)', () => {
    const none = encodeRequest({ type: 'Publish', topic: 't', value: Buffer.alloc(0) });
    const empty = encodeRequest({ type: 'Publish', topic: 't', key: Buffer.alloc(0), value: Buffer.alloc(0) });
    const data = encodeRequest({ type: 'Publish', topic: 't', key: 'k', value: 'v' });
    expect(none.toString('hex')).toBe('04017400000000');
    expect(empty.toString('hex')).toBe('0401740001000000');
    expect(data.toString('hex')).toBe('040174000101 6b 01 76 00'.replace(/ /g, ''));
    expect(decodeRequest(empty)).toEqual({ type: 'Publish', topic: 't', key: Buffer.alloc(0), value: Buffer.alloc(0) });
    expect(decodeRequest(none)).toEqual({ type: 'Publish', topic: 't', value: Buffer.alloc(0) });
  });

  it('fails with typed errors on unknown variants, truncation and trailing bytes', () => {
    expect(() => decodeResponse(hex('2a'))).toThrow(/unknown Response variant index 42/);
    expect(() => decodeRequest(hex('28'))).toThrow(/unknown Request variant index 40/);
    expect(() => decodeResponse(hex('0d05'))).toThrow(/truncated/);
    expect(() => decodeResponse(hex('0c00'))).toThrow(/1 trailing bytes after Response::Pong/);
    expect(() => decodeResponse(Buffer.alloc(0))).toThrow(ProtocolError);
  });

  it('refuses to encode values outside their wire type, naming the field', () => {
    expect(() => encodeRequest({ type: 'Consume', topic: 't', partition: -1, offset: 0n, maxMessages: 1 })).toThrow(
      /Request::Consume\.partition: expected u32, got -1/,
    );
    expect(() => encodeRequest({ type: 'Consume', topic: 't', partition: 0, offset: 1n << 64n, maxMessages: 1 })).toThrow(/offset/);
    expect(() => encodeRequest({ type: 'GetOffsetForTimestamp', topic: 't', partition: 0, timestampMs: 1 as unknown as bigint })).toThrow(
      /expected i64 \(bigint\)/,
    );
    expect(() => encodeRequest({ type: 'DeleteTopic', name: 'x'.repeat(257) })).toThrow(/limit of 256 bytes/);
    expect(() => encodeRequest({ type: 'Nope' } as never)).toThrow(/unknown variant "Nope"/);
    const records = Array.from({ length: 10_001 }, () => ({ value: Buffer.alloc(0) }));
    expect(() => encodeRequest({ type: 'PublishBatch', topic: 't', records })).toThrow(/10001 items, more than the protocol's limit of 10000/);
  });

  it('round-trips a map-bearing response preserving every entry', () => {
    const offsets = new Map([
      ['a', new Map([[0, 5n], [1, (1n << 64n) - 1n]])],
      ['b', new Map<number, bigint>()],
    ]);
    const bytes = encodeResponse({ type: 'GroupDescription', consumerGroup: 'g', offsets });
    expect(decodeResponse(bytes)).toEqual({ type: 'GroupDescription', consumerGroup: 'g', offsets });
  });
});

describe('64-bit integers decode exactly (property)', () => {
  // The reader builds bigints from the previous value plus a small cached difference when a value
  // fits a 7-byte varint (< 2^49), and from scratch otherwise: every path must give the exact value,
  // also at and beyond 2^53 (where a JS number would round) and up to u64/i64's extremes.
  const near = (base: bigint) => fc.bigInt({ min: base - 300n, max: base + 300n });
  const u64 = fc.oneof(
    fc.bigInt({ min: 0n, max: 300n }),
    near(1n << 49n),
    near(1n << 53n),
    near(1n << 56n),
    fc.bigInt({ min: (1n << 64n) - 300n, max: (1n << 64n) - 1n }),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  );
  const i64 = fc.oneof(
    fc.bigInt({ min: -300n, max: 300n }),
    near(1_700_000_000_000n),
    near(1n << 48n),
    near(-(1n << 48n)),
    near(1n << 53n),
    near(-(1n << 53n)),
    fc.bigInt({ min: -(1n << 63n), max: -(1n << 63n) + 300n }),
    fc.bigInt({ min: (1n << 63n) - 300n, max: (1n << 63n) - 1n }),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  );
  /** Runs of consecutive values (the delta path) starting anywhere, mixed with arbitrary ones. */
  const runs = (start: fc.Arbitrary<bigint>, step: fc.Arbitrary<bigint>, min: bigint, max: bigint) =>
    fc.array(fc.tuple(start, fc.array(step, { maxLength: 6 })), { minLength: 1, maxLength: 8 }).map((chunks) =>
      chunks.flatMap(([first, steps]) => {
        const out = [first];
        for (const s of steps) {
          const next = out[out.length - 1]! + s;
          out.push(next < min ? min : next > max ? max : next);
        }
        return out;
      }),
    );

  it('offsets (u64) and timestamps (i64) of Messages round-trip exactly, in runs and alone', () => {
    fc.assert(
      fc.property(
        runs(u64, fc.bigInt({ min: 0n, max: 300n }), 0n, (1n << 64n) - 1n),
        runs(i64, fc.bigInt({ min: -300n, max: 300n }), -(1n << 63n), (1n << 63n) - 1n),
        (offsets, timestamps) => {
          const n = Math.min(offsets.length, timestamps.length);
          const messages = Array.from({ length: n }, (_, i) => ({
            offset: offsets[i]!,
            partition: 0,
            value: Buffer.from([i & 0xff]),
            timestamp: timestamps[i]!,
            headers: [] as [string, Buffer][],
          }));
          const bytes = encodeResponse({ type: 'Messages', messages });
          const decoded = decodeResponse(bytes);
          if (decoded.type !== 'Messages') throw new Error(decoded.type);
          expect(decoded.messages.map((m) => m.offset)).toEqual(offsets.slice(0, n));
          expect(decoded.messages.map((m) => m.timestamp)).toEqual(timestamps.slice(0, n));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps values at and beyond 2^53 exact (a number would round them)', () => {
    const offsets = [(1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 53n) + 2n, (1n << 63n) - 1n, (1n << 64n) - 1n];
    const timestamps = [(1n << 53n) + 1n, (1n << 53n) + 1n, -(1n << 53n) - 1n, (1n << 63n) - 1n, -(1n << 63n), 1_700_000_000_000n];
    const messages = offsets.map((offset, i) => ({ offset, partition: 1, value: Buffer.alloc(0), timestamp: timestamps[i]!, headers: [] as [string, Buffer][] }));
    const decoded = decodeResponse(encodeResponse({ type: 'Messages', messages }));
    expect(decoded).toEqual({ type: 'Messages', messages });
  });
});

describe("a publish request's records (the sized one-pass encoder)", () => {
  // The general path: the same Vec<BatchRecord> through the schema's per-field codecs.
  const general = compile(vec(struct(['key', option(bytes)], ['value', bytes]), 10_000), 'records');
  const fast = compile(batchRecordList(10_000), 'records');
  const bytesOfLength = (max: number) =>
    fc.oneof(
      fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a)),
      fc.uint8Array({ maxLength: max }), // a plain Uint8Array, not a Buffer
      // a view into the middle of a larger buffer
      fc.tuple(fc.uint8Array({ minLength: 4, maxLength: max + 8 }), fc.nat(3)).map(([a, at]) => Buffer.from(a).subarray(at, a.length - 1)),
    );
  // Lengths around each varint width: 127/128 and 16383/16384.
  const value = fc.oneof(bytesOfLength(200), fc.integer({ min: 16_380, max: 16_390 }).map((n) => Buffer.alloc(n, n & 0xff)));
  const record = fc.record({ key: fc.option(bytesOfLength(140), { nil: undefined }), value });

  it('writes exactly the bytes of the per-field path, after whatever was written before (property)', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 40 }), fc.string({ maxLength: 30 }), (records, before) => {
        const expected = written((w) => {
          w.string(before);
          general.encode(w, records);
        });
        // A small starting capacity, so the one growth of the sized pass is exercised.
        const w = new PostcardWriter(16);
        w.string(before);
        fast.encode(w, records);
        expect(w.finish().toString('hex')).toBe(expected);
      }),
    );
  });

  it('takes the general path for string keys and values, and for a null key', () => {
    const records = [{ key: 'k', value: 'v€' }, { key: null, value: Buffer.from('x') }, { value: new Uint8Array([1, 2]) }];
    expect(written((w) => fast.encode(w, records))).toBe(written((w) => general.encode(w, records)));
  });

  it('says what is wrong with a bad record, as the general path does, having written nothing of the list', () => {
    for (const records of [[{ value: 7 }], [null], [{ value: Buffer.from('a'), key: 3 }], 'not a list']) {
      const w = new PostcardWriter();
      let fastError: unknown;
      let generalError: unknown;
      try {
        fast.encode(w, records);
      } catch (e) {
        fastError = e;
      }
      try {
        general.encode(new PostcardWriter(), records);
      } catch (e) {
        generalError = e;
      }
      expect(fastError).toBeInstanceOf(ProtocolError);
      expect((fastError as Error).message).toBe((generalError as Error).message);
    }
  });

  it('refuses more records than the protocol allows', () => {
    const records = Array.from({ length: 10_001 }, () => ({ value: Buffer.alloc(0) }));
    expect(() => fast.encode(new PostcardWriter(), records)).toThrow(/10001 items, more than the protocol's limit of 10000/);
  });
});
