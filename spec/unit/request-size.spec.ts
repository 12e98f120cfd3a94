/**
 * request-size.ts against the real encoder: a BatchRecord's size is exact, and the overhead bound
 * holds for every publish request shape, so the producer's "does it fit" never says yes to a
 * request the frame encoder (and the broker) would refuse.
 */
import fc from 'fast-check';
import { requestToWire } from '../../src/protocol/frame';
import { varintSize } from '../../src/protocol/postcard-writer';
import { batchRecordWireSize, publishRequestOverhead } from '../../src/protocol/request-size';

const record = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
  value: fc.uint8Array({ maxLength: 20_000 }),
});
const topic = fc.string({ minLength: 1, maxLength: 85, unit: fc.constantFrom('a', 'é', '-', '日', '9') });

function recordsSize(records: readonly { key?: Uint8Array; value: Uint8Array }[]): number {
  return records.reduce((sum, r) => sum + batchRecordWireSize(r.key?.length, r.value.length), 0);
}

describe('request size', () => {
  it('varintSize matches LEB128 at every boundary', () => {
    for (const [value, size] of [[0, 1], [127, 1], [128, 2], [16_383, 2], [16_384, 3], [2 ** 21 - 1, 3], [2 ** 21, 4], [2 ** 28, 5], [2 ** 32 - 1, 5]] as const) {
      expect(varintSize(value)).toBe(size);
    }
  });

  it('a PublishBatch is its records plus at most the overhead, for any topic and records', () => {
    fc.assert(
      fc.property(topic, fc.array(record, { maxLength: 20 }), fc.option(fc.nat(1_000_000), { nil: undefined }), (t, records, partition) => {
        const wire = requestToWire({ type: 'PublishBatch', topic: t, partition, records, leaderEpoch: 2n ** 64n - 1n }, 0xffff_ffff);
        const exact = recordsSize(records);
        expect(wire.length).toBeGreaterThan(exact);
        expect(wire.length).toBeLessThanOrEqual(exact + publishRequestOverhead(t));
      }),
      { numRuns: 200 },
    );
  });

  it('an IdempotentPublishBatch at the widest producer fields fits the same bound', () => {
    fc.assert(
      fc.property(topic, fc.array(record, { maxLength: 10 }), (t, records) => {
        const wire = requestToWire(
          {
            type: 'IdempotentPublishBatch',
            topic: t,
            partition: 2 ** 32 - 1,
            records,
            producerId: 2n ** 64n - 1n,
            producerEpoch: 65_535,
            baseSequence: -(2 ** 31),
            leaderEpoch: 2n ** 64n - 1n,
          },
          1,
        );
        expect(wire.length).toBeLessThanOrEqual(recordsSize(records) + publishRequestOverhead(t));
      }),
      { numRuns: 200 },
    );
  });

  it('a TransactionalPublish fits its bound with the transactional id counted', () => {
    fc.assert(
      fc.property(topic, record, fc.string({ minLength: 1, maxLength: 200 }), (t, r, txnId) => {
        const wire = requestToWire(
          {
            type: 'TransactionalPublish',
            txnId,
            topic: t,
            partition: 7,
            key: r.key,
            value: r.value,
            producerId: 2n ** 64n - 1n,
            producerEpoch: 65_535,
            sequence: 2 ** 31 - 1,
            leaderEpoch: 5n,
          },
          1,
        );
        expect(wire.length).toBeLessThanOrEqual(batchRecordWireSize(r.key?.length, r.value.length) + publishRequestOverhead(t, Buffer.byteLength(txnId)));
      }),
      { numRuns: 200 },
    );
  });
});
