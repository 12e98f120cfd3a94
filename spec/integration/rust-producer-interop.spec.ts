/**
 * Issue 13 §1: values a compressing Rust rivven-client 0.0.22 Producer wrote (through the harness's
 * `produce-values`) read back byte-identical through our Consumer with `valueFraming: 'rivven-core'`
 * — including the values under 64 bytes and the incompressible ones, which rivven-core stores as
 * `[0x00][data]` and which the default 'detect' therefore leaves as stored.
 */
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { firstValueFrom, take, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { decodeValues } from '../../src/protocol/value-decoder';
import { requireHarness } from '../support/harness-binary';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

const run = promisify(execFile);
let client: Client;
let dir: string;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'rust-producer-interop-spec' }));
  dir = mkdtempSync(join(tmpdir(), 'rivven-rx-rust-producer-'));
});
afterAll(async () => {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Publish `values` with the Rust Producer; where each landed and the bytes rivven-core framed it as. */
async function produceWithRust(topic: string, compression: string, values: readonly Buffer[]): Promise<{ offsets: number[]; framed: Buffer[] }> {
  const file = join(dir, `${topic}.json`);
  writeFileSync(file, JSON.stringify({ values: values.map((v) => v.toString('hex')) }));
  const { stdout } = await run(
    requireHarness(),
    ['produce-values', '--addr', testBroker().address, '--topic', topic, '--compression', compression, '--partitions', '1', file],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const line = JSON.parse(stdout.trim().split('\n').pop()!) as { offsets: number[]; framed: string[] };
  return { offsets: line.offsets, framed: line.framed.map((h) => Buffer.from(h, 'hex')) };
}

/** Every record of partition 0 from offset 0. */
async function readAll(topic: string, count: number, valueFraming: 'raw' | 'rivven-core'): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = 0n;
  while (out.length < count) {
    const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset, maxMessages: 200, valueFraming }));
    if (records.length === 0) throw new Error(`consume$ returned nothing at offset ${offset} of ${count}`);
    for (const r of records) out.push(r.value);
    offset = records[records.length - 1]!.offset + 1n;
  }
  return out;
}

function firstDifference(sent: readonly Buffer[], got: readonly Buffer[], via: string): string | undefined {
  if (got.length !== sent.length) return `${via}: ${got.length} values came back for ${sent.length} sent`;
  const i = sent.findIndex((s, n) => !got[n]!.equals(s));
  if (i < 0) return undefined;
  return `${via}: value ${i} (${sent[i]!.length} B, first byte 0x${(sent[i]![0] ?? 0).toString(16)}) came back as ${got[i]!.length} B starting ${got[i]!.subarray(0, 12).toString('hex')}`;
}

/** Every first byte 0–255 with a short tail (< 64 B: stored `[0x00][data]`), then larger values of each kind. */
const rustValues = fc
  .tuple(
    fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 256, maxLength: 256 }),
    fc.array(fc.uint8Array({ minLength: 64, maxLength: 3000 }), { minLength: 4, maxLength: 8 }),
    fc.array(fc.tuple(fc.integer({ min: 64, max: 200_000 }), fc.string({ minLength: 1, maxLength: 12 })), { minLength: 4, maxLength: 8 }),
  )
  .map(([tails, random, texts]) => [
    ...tails.map((tail, first) => Buffer.concat([Buffer.from([first]), tail])),
    Buffer.alloc(0),
    Buffer.from('Hello, world'),
    ...random.map((r) => Buffer.from(r)),
    ...texts.map(([size, unit]) => Buffer.alloc(size, unit)),
    Buffer.alloc(100_000), // zeros: very low entropy
  ]);

describe("a compressing Rust rivven-client Producer → rivvend → our Consumer (valueFraming: 'rivven-core')", () => {
  it.each(['lz4', 'zstd', 'snappy'])('compression %s: every value reads back byte-identical', async (compression) => {
    await fc.assert(
      fc.asyncProperty(rustValues, async (values) => {
        const topic = unique(`rust-${compression}`);
        const { offsets, framed } = await produceWithRust(topic, compression, values);
        const sent: Buffer[] = new Array<Buffer>(values.length);
        const expectedStored: Buffer[] = new Array<Buffer>(values.length);
        offsets.forEach((offset, i) => {
          sent[offset] = values[i]!;
          expectedStored[offset] = framed[i]!;
        });
        expect([...offsets].sort((a, b) => a - b)).toEqual(values.map((_, i) => i));

        // The broker holds rivven-core frames: [0x00][data] for small/incompressible, compressed for the rest.
        const stored = await readAll(topic, values.length, 'raw');
        expect(firstDifference(expectedStored, stored, 'stored bytes vs rivven-core Compressor')).toBeUndefined();
        const flags = new Set(stored.map((v) => v[0]));
        expect(flags.has(0x00)).toBe(true);
        expect([0x11, 0x12, 0x13].some((f) => flags.has(f))).toBe(true);

        const decoded = await decodeValues(stored, { framing: 'rivven-core', budgetBytes: Number.MAX_SAFE_INTEGER });
        expect(firstDifference(sent, decoded.decoded, 'decodeValues(rivven-core)')).toBeUndefined();
        expect(firstDifference(sent, await readAll(topic, values.length, 'rivven-core'), "Client.consume$ (valueFraming: 'rivven-core')")).toBeUndefined();

        const consumer = Consumer.create({
          bootstrapServers: [testBroker().address],
          groupId: unique('g'),
          assign: { [topic]: [0] },
          enableAutoCommit: false,
          ackMode: 'onEmit',
          valueFraming: 'rivven-core',
        });
        try {
          const records = await firstValueFrom(consumer.records$.pipe(take(values.length), toArray()));
          expect(firstDifference(sent, records.map((r) => r.value), "Consumer.records$ (valueFraming: 'rivven-core')")).toBeUndefined();
        } finally {
          await consumer.close();
        }

        // Why the setting is needed: 'detect' decodes the compressed frames but leaves [0x00][data] as stored.
        const detected = await decodeValues(stored, { framing: 'detect', budgetBytes: Number.MAX_SAFE_INTEGER });
        stored.forEach((value, i) => {
          if (value[0] === 0x00) expect(detected.decoded[i]!.equals(value)).toBe(true);
          else if ([0x11, 0x12, 0x13].includes(value[0]!)) expect(detected.decoded[i]!.equals(sent[i]!)).toBe(true);
        });
      }),
      { numRuns: 2, endOnFailure: true },
    );
  });
});
