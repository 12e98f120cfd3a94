/**
 * Issue 13 §1 end to end: arbitrary values — every first byte 0–255, sizes 0 B to 1 MB, random,
 * zeros, text, schema-registry framing — sent by our Producer with compression off and with each
 * algorithm, through the real broker, come back byte-identical through `Consumer.records$`,
 * `Client.consume$` and `decodeValues` (default 'detect' framing). What the compressing Producer
 * stores also decodes under 'rivven-core' framing (rivven-core can read it).
 */
import fc from 'fast-check';
import { firstValueFrom, from, lastValueFrom, map, mergeMap, take, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { decodeValues } from '../../src/protocol/value-decoder';
import type { CompressionAlgorithm } from '../../src/protocol/value-framing';
import { Producer } from '../../src/producer/producer';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'value-roundtrip-spec' }));
});
afterAll(async () => {
  await client.close();
});

const MB = 1024 * 1024;

/** What follows a value's first byte: random bytes, zeros, text, a schema id and an Avro-ish body. */
const rest = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.nat({ max: 2000 }).map((n) => new Uint8Array(n)),
  fc.string({ maxLength: 500 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc.tuple(fc.nat({ max: 1 << 20 }), fc.uint8Array({ maxLength: 100 })).map(([id, body]) => {
    const out = Buffer.alloc(4 + body.length);
    out.writeUInt32BE(id);
    out.set(body, 4);
    return new Uint8Array(out);
  }),
);

/** Incompressible bytes from a seed (fast-check's uint8Array is slow at a megabyte). */
function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A large value (2 KB to 1 MB), random or compressible. */
const large = fc
  .tuple(fc.integer({ min: 2001, max: MB }), fc.boolean(), fc.integer({ min: 0, max: 255 }))
  .map(([size, random, seed]) => (random ? pseudoRandom(size, seed) : Buffer.alloc(size, `rivven-${seed} `)));

/**
 * One topic's values: 256 values whose first bytes are 0x00…0xFF in turn, the empty value, the
 * sizes around the 64-byte compression threshold, exactly 1 MiB, and a few more large ones
 * (≤ ~5 MB in all, so a fetch of everything stays under the 10 MiB frame limit).
 */
const topicValues = fc
  .tuple(fc.array(rest, { minLength: 256, maxLength: 256 }), fc.array(large, { minLength: 1, maxLength: 3 }), fc.uint8Array({ minLength: 70, maxLength: 70 }))
  .map(([rests, larges, edge]) => {
    const values: Buffer[] = rests.map((r, first) => Buffer.concat([Buffer.from([first]), r]));
    values.push(Buffer.alloc(0));
    for (const n of [1, 62, 63, 64, 65, 70]) values.push(Buffer.from(edge.subarray(0, n)));
    values.push(Buffer.alloc(MB), pseudoRandom(MB, edge[0]!));
    values.push(...larges);
    return values;
  });

/** The first value that differs, described, or undefined when all match. */
function firstDifference(sent: readonly Buffer[], got: readonly Buffer[], via: string): string | undefined {
  if (got.length !== sent.length) return `${via}: ${got.length} values came back for ${sent.length} sent`;
  for (let i = 0; i < sent.length; i++) {
    if (!got[i]!.equals(sent[i]!)) {
      const s = sent[i]!;
      const g = got[i]!;
      return `${via}: value ${i} (${s.length} B, first byte 0x${(s[0] ?? 0).toString(16)}) came back as ${g.length} B starting ${g.subarray(0, 12).toString('hex')}`;
    }
  }
  return undefined;
}

/** Every record of partition 0 from offset 0, in `maxMessages`-sized fetches. */
async function readAll(topic: string, count: number, valueFraming: 'raw' | 'detect'): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = 0n;
  while (out.length < count) {
    const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset, maxMessages: 100, valueFraming }));
    if (records.length === 0) throw new Error(`consume$ returned nothing at offset ${offset} of ${count}`);
    for (const r of records) out.push(r.value);
    offset = records[records.length - 1]!.offset + 1n;
  }
  return out;
}

async function roundTrip(compressionType: CompressionAlgorithm, values: Buffer[]): Promise<void> {
  const topic = unique(`roundtrip-${compressionType}`);
  await firstValueFrom(client.createTopic$(topic, 1));
  const producer = Producer.create({ bootstrapServers: [testBroker().address], compressionType, lingerMs: 5 });
  try {
    // In flight together; the offsets say where each landed.
    const results = await lastValueFrom(
      from(values.map((value, i) => ({ value, i }))).pipe(
        mergeMap(({ value, i }) => producer.send$({ topic, value, partition: 0 }).pipe(map((r) => ({ i, offset: Number(r.offset) })))),
        toArray(),
      ),
    );
    const sent: Buffer[] = new Array<Buffer>(values.length);
    for (const { i, offset } of results) sent[offset] = values[i]!;
    expect(results.map((r) => r.offset).sort((a, b) => a - b)).toEqual(values.map((_, i) => i));

    const stored = await readAll(topic, values.length, 'raw');
    if (compressionType === 'none') expect(firstDifference(sent, stored, 'stored bytes (compression off)')).toBeUndefined();
    const detected = await decodeValues(stored, { framing: 'detect', budgetBytes: Number.MAX_SAFE_INTEGER });
    expect(firstDifference(sent, detected.decoded, 'decodeValues(detect)')).toBeUndefined();
    if (compressionType !== 'none') {
      const framed = await decodeValues(stored, { framing: 'rivven-core', budgetBytes: Number.MAX_SAFE_INTEGER });
      expect(firstDifference(sent, framed.decoded, 'decodeValues(rivven-core)')).toBeUndefined();
    }
    expect(firstDifference(sent, await readAll(topic, values.length, 'detect'), 'Client.consume$')).toBeUndefined();

    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false, ackMode: 'onEmit' });
    try {
      const viaConsumer = await firstValueFrom(consumer.records$.pipe(take(values.length), toArray()));
      expect(viaConsumer.map((r) => Number(r.offset))).toEqual(values.map((_, i) => i));
      expect(firstDifference(sent, viaConsumer.map((r) => r.value), 'Consumer.records$')).toBeUndefined();
    } finally {
      await consumer.close();
    }
  } finally {
    await producer.close();
  }
}

describe('values come back exactly as they were sent (Producer → rivvend → Consumer)', () => {
  it.each(['none', 'lz4', 'zstd', 'snappy'] as const)('compression %s: every first byte, 0 B to 1 MB', async (compressionType) => {
    await fc.assert(
      fc.asyncProperty(topicValues, (values) => roundTrip(compressionType, values)),
      { numRuns: 3, endOnFailure: true },
    );
  });
});
