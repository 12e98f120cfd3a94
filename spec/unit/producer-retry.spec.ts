/**
 * The producer's retry pieces without a broker (the wait between attempts is the retrier's:
 * retrier.spec.ts): the batch sender's attempts, and the idempotent session that is replaced when the broker lost the producer's state (KIP-360).
 */
import { asapScheduler, firstValueFrom, of, throwError } from 'rxjs';
import type { Client } from '../../src/client/client';
import { ConnectionError, NotInLogError, ServerError } from '../../src/errors';
import { BatchSender } from '../../src/producer/batch-sender';
import { Idempotence, isLostProducerState } from '../../src/producer/idempotence';
import { Producer } from '../../src/producer/producer';
import { Retrier } from '../../src/client/retrier';
import { createLog } from '../../src/observability/log';

describe('Idempotence (KIP-360 re-initialisation)', () => {
  it('recognises the answers that mean the broker lost the producer state', () => {
    expect(isLostProducerState(new ServerError('UNKNOWN_PRODUCER_ID: producer 1 not initialized'))).toBe(true);
    expect(isLostProducerState(new ServerError('OUT_OF_ORDER_SEQUENCE: expected 5, got 7'))).toBe(true);
    expect(isLostProducerState(new ServerError('PRODUCER_FENCED: current epoch 2, received 1'))).toBe(false);
    expect(isLostProducerState(new ConnectionError('closed'))).toBe(false);
  });

  it('replaces a lost session once, however many partitions report the loss, with fresh sequences', async () => {
    let next = 1n;
    const idempotence = new Idempotence(true, async () => ({ producerId: next++, producerEpoch: 0 }), () => undefined);
    const first = (await idempotence.current())!;
    first.sequences.advance(0, 42);
    expect(first.identity.producerId).toBe(1n);
    // Three partitions' batches see UNKNOWN_PRODUCER_ID for the same session.
    expect(idempotence.reset(first)).toBe(true);
    expect(idempotence.reset(first)).toBe(false);
    const second = (await idempotence.current())!;
    expect(idempotence.reset(first)).toBe(false);
    expect(second.identity.producerId).toBe(2n);
    expect(second.sequences.next(0)).toBe(0);
    expect(idempotence.resets).toBe(1);
    expect(await idempotence.current()).toBe(second);
  });

  it('tries again after a retriable failure to obtain an id, and turns idempotence off after a refusal', async () => {
    let calls = 0;
    const refusals: string[] = [];
    const flaky = new Idempotence(
      true,
      async () => {
        calls++;
        if (calls === 1) throw new ConnectionError('broker unreachable');
        return { producerId: 7n, producerEpoch: 0 };
      },
      (reason) => refusals.push(reason),
    );
    await expect(flaky.current()).rejects.toBeInstanceOf(ConnectionError);
    expect((await flaky.current())!.identity.producerId).toBe(7n);
    expect(flaky.isGranted()).toBe(true);

    const refused = new Idempotence(true, async () => ({ producerId: 0n, producerEpoch: 0 }), (reason) => refusals.push(reason));
    expect(await refused.current()).toBeUndefined();
    expect(refused.isGranted()).toBe(false);
    expect(refusals).toHaveLength(1);
  });
});

describe('Producer health', () => {
  it('health() returns ProducerHealth (with producerIdResets); health$ starts with it; there is no stats()', async () => {
    const producer = Producer.create({ bootstrapServers: ['127.0.0.1:1'] });
    try {
      const health = producer.health();
      expect(health).toMatchObject({ recordsSent: 0, producerIdResets: 0, retries: 0, lastError: undefined, idempotent: false });
      expect('stats' in producer).toBe(false);
      expect(await firstValueFrom(producer.health$)).toEqual(health);
    } finally {
      await producer.close();
    }
  });
});

describe('BatchSender', () => {
  /**
   * A scripted answer: stored (the records go into the fake log at `baseOffset` on, with `foreign`
   * records of another writer after the first `foreignAfter` of them), a duplicate answer naming
   * `baseOffset` (storing nothing), or an error.
   */
  type Reply = { baseOffset: bigint; duplicate?: boolean; foreign?: number; foreignAfter?: number; store?: boolean } | Error;
  type Stored = { key: Buffer | undefined; value: Buffer };
  /** A lane whose client answers publishes from a script, recording what was sent; reads come from a fake log. */
  function scriptedLane(replies: Reply[], onRead?: (log: Map<bigint, Stored>, reads: number) => void) {
    let reads = 0;
    const sent: { producerId?: bigint; baseSequence?: number; records?: number }[] = [];
    const log = new Map<bigint, Stored>();
    let resets = 0;
    const answer = (records: readonly { key?: Buffer; value: Buffer }[]) => {
      const reply = replies.shift() ?? new Error('script exhausted');
      if (reply instanceof Error) return throwError(() => reply);
      if (!reply.duplicate && reply.store !== false) {
        let offset = reply.baseOffset;
        records.forEach((r, i) => {
          if (i === (reply.foreignAfter ?? 1)) for (let f = 0; f < (reply.foreign ?? 0); f++) log.set(offset++, { key: undefined, value: Buffer.from(`foreign-${f}`) });
          log.set(offset++, { key: r.key, value: r.value });
        });
      }
      return of({ topic: 't', partition: 0, baseOffset: reply.baseOffset, recordCount: records.length, duplicate: reply.duplicate ?? false });
    };
    const client = {
      idempotentPublishBatch$: (_t: string, r: readonly { key?: Buffer; value: Buffer }[], producer: { producerId: bigint }, baseSequence: number) => {
        sent.push({ producerId: producer.producerId, baseSequence, records: r.length });
        return answer(r);
      },
      publishBatch$: (_t: string, r: readonly { key?: Buffer; value: Buffer }[]) => {
        sent.push({ records: r.length });
        return answer(r);
      },
      consume$: (_t: string, options: { offset: bigint; maxMessages: number }) => {
        onRead?.(log, ++reads);
        const out = [...log.entries()]
          .filter(([offset]) => offset >= options.offset)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .slice(0, options.maxMessages)
          .map(([offset, r]) => ({ topic: 't', partition: 0, offset, key: r.key, value: r.value, timestamp: 0n, headers: [] }));
        return of(out);
      },
      // Where the log ends: what the read-back asks when a page comes back short.
      getOffsetBounds$: () => of({ earliest: 0n, latest: [...log.keys()].reduce((end, offset) => (offset >= end ? offset + 1n : end), 0n) }),
    } as unknown as Client;
    return { lane: { client: async () => client, reset: () => void resets++ }, sent, log, resets: () => resets };
  }

  function sender(idempotence: Idempotence, maxAttempts = 1_001) {
    const retry = { maxAttempts, initialDelayMs: 1, maxDelayMs: 10, multiplier: 2, jitter: 0.2 };
    return new BatchSender({ retrier: new Retrier(retry, asapScheduler), idempotence, onRetry: () => undefined });
  }

  const records = [{ value: Buffer.from('a') }, { value: Buffer.from('b') }];
  const fiveRecords = ['a', 'b', 'c', 'd', 'e'].map((v) => ({ value: Buffer.from(v) }));

  it('UNKNOWN_PRODUCER_ID: a new producer id, sequences from 0, resent at once', async () => {
    let next = 1n;
    const idempotence = new Idempotence(true, async () => ({ producerId: next++, producerEpoch: 0 }), () => undefined);
    const { lane, sent } = scriptedLane([{ baseOffset: 0n }, new ServerError('UNKNOWN_PRODUCER_ID: producer 1 not initialized'), { baseOffset: 7n }]);
    const s = sender(idempotence);
    expect(await s.send({ topic: 't', partition: 0, records, lane, abandoned: () => false })).toEqual({ acknowledged: true, offsets: [0n, 1n] });
    expect(await s.send({ topic: 't', partition: 0, records, lane, abandoned: () => false })).toEqual({ acknowledged: true, offsets: [7n, 8n] });
    expect(sent).toEqual([
      { producerId: 1n, baseSequence: 0, records: 2 },
      { producerId: 1n, baseSequence: 2, records: 2 },
      { producerId: 2n, baseSequence: 0, records: 2 },
    ]);
    expect(idempotence.resets).toBe(1);
  });

  it('PRODUCER_FENCED: a stranger took the id (rivvend reuses ids after a restart); a new id, and the batch goes on', async () => {
    let next = 1n;
    const idempotence = new Idempotence(true, async () => ({ producerId: next++, producerEpoch: 0 }), () => undefined);
    const { lane, sent } = scriptedLane([new ServerError('PRODUCER_FENCED: current epoch 1, received 0'), { baseOffset: 4n }]);
    expect(await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned: () => false })).toEqual({ acknowledged: true, offsets: [4n, 5n] });
    expect(sent.map((s) => s.producerId)).toEqual([1n, 2n]);
    expect(idempotence.resets).toBe(1);
  });

  it('sequences are the broker\'s per partition number: topics A and B share partition 0\'s', async () => {
    const idempotence = new Idempotence(true, async () => ({ producerId: 3n, producerEpoch: 0 }), () => undefined);
    const { lane, sent } = scriptedLane([{ baseOffset: 0n }, { baseOffset: 0n }, { baseOffset: 2n }]);
    const s = sender(idempotence);
    await s.send({ topic: 'A', partition: 0, records, lane, abandoned: () => false });
    await s.send({ topic: 'B', partition: 0, records, lane, abandoned: () => false });
    await s.send({ topic: 'A', partition: 0, records, lane, abandoned: () => false });
    expect(sent.map((s) => s.baseSequence)).toEqual([0, 2, 4]);
  });

  it('a connection failure is retried on a fresh connection with the same sequence; a duplicate answer is believed for what the log holds', async () => {
    const idempotence = new Idempotence(true, async () => ({ producerId: 5n, producerEpoch: 0 }), () => undefined);
    // The first attempt was stored at 3..4 (its answer lost); the third is answered "duplicate".
    const { lane, sent, log, resets } = scriptedLane([new ConnectionError('closed'), new ConnectionError('refused'), { baseOffset: 3n, duplicate: true }]);
    log.set(3n, { key: undefined, value: Buffer.from('a') });
    log.set(4n, { key: undefined, value: Buffer.from('b') });
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned: () => false });
    expect(outcome).toEqual({ acknowledged: true, offsets: [3n, 4n] });
    expect(sent.map((s) => s.baseSequence)).toEqual([0, 0, 0]);
    expect(resets()).toBe(2);
    expect(idempotence.resets).toBe(0);
  });

  it('a duplicate answer for the head of a batch (the broker stored part of it): the head is acknowledged where it is, the tail sent on with the next sequence', async () => {
    const idempotence = new Idempotence(true, async () => ({ producerId: 5n, producerEpoch: 0 }), () => undefined);
    const { lane, sent, log } = scriptedLane([{ baseOffset: 10n, duplicate: true }, { baseOffset: 14n }]);
    // An earlier attempt stored a, b (with a foreign record between them) and then failed.
    log.set(10n, { key: undefined, value: Buffer.from('a') });
    log.set(11n, { key: undefined, value: Buffer.from('x') });
    log.set(12n, { key: undefined, value: Buffer.from('b') });
    log.set(13n, { key: undefined, value: Buffer.from('y') });
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records: fiveRecords, lane, abandoned: () => false });
    expect(outcome).toEqual({ acknowledged: true, offsets: [10n, 12n, 14n, 15n, 16n] });
    expect(sent).toEqual([
      { producerId: 5n, baseSequence: 0, records: 5 },
      { producerId: 5n, baseSequence: 2, records: 3 },
    ]);
  });

  it('a head still growing (the earlier attempt is being appended inside the broker) is read again until it settles: nothing is sent twice', async () => {
    const idempotence = new Idempotence(true, async () => ({ producerId: 5n, producerEpoch: 0 }), () => undefined);
    // The earlier attempt has stored a and b when the duplicate answer comes; c, d and e follow
    // while the producer reads.
    const { lane, sent, log } = scriptedLane([{ baseOffset: 0n, duplicate: true }], (log, reads) => {
      if (reads === 2) ['c', 'd', 'e'].forEach((v, i) => log.set(BigInt(2 + i), { key: undefined, value: Buffer.from(v) }));
    });
    log.set(0n, { key: undefined, value: Buffer.from('a') });
    log.set(1n, { key: undefined, value: Buffer.from('b') });
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records: fiveRecords, lane, abandoned: () => false });
    expect(outcome).toEqual({ acknowledged: true, offsets: [0n, 1n, 2n, 3n, 4n] });
    expect(sent).toEqual([{ producerId: 5n, baseSequence: 0, records: 5 }]);
  });

  it('more than 5 of a batch stored: the duplicate answer names the last of them (the broker caches 5), so the batch is searched for from the partition\'s last acknowledgement', async () => {
    const idempotence = new Idempotence(true, async () => ({ producerId: 5n, producerEpoch: 0 }), () => undefined);
    const eight = 'abcdefgh'.split('').map((v) => ({ value: Buffer.from(v) }));
    // Batch 1 acknowledged at 0..1; batch 2's earlier attempt stored a..g at 2..8 (answer lost); the
    // resend is answered "duplicate" with the offset of g, the last one stored.
    const { lane, sent, log } = scriptedLane([{ baseOffset: 0n }, { baseOffset: 8n, duplicate: true }, { baseOffset: 9n }]);
    const s = sender(idempotence);
    await s.send({ topic: 't', partition: 0, records, lane, abandoned: () => false });
    'abcdefg'.split('').forEach((v, i) => log.set(BigInt(2 + i), { key: undefined, value: Buffer.from(v) }));
    const outcome = await s.send({ topic: 't', partition: 0, records: eight, lane, abandoned: () => false });
    expect(outcome).toEqual({ acknowledged: true, offsets: [2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n] });
    expect(sent.map((x) => [x.producerId, x.baseSequence, x.records])).toEqual([
      [5n, 0, 2],
      [5n, 2, 8],
      [5n, 9, 1],
    ]);
    expect(idempotence.resets).toBe(0);
  });

  it('a duplicate answer naming an offset that does not hold the batch is not believed: a new producer id, and the batch is sent again', async () => {
    let next = 1n;
    const idempotence = new Idempotence(true, async () => ({ producerId: next++, producerEpoch: 0 }), () => undefined);
    const { lane, sent, log } = scriptedLane([{ baseOffset: 0n, duplicate: true }, { baseOffset: 1n }]);
    log.set(0n, { key: undefined, value: Buffer.from('another topic\'s record') });
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned: () => false });
    expect(outcome).toEqual({ acknowledged: true, offsets: [1n, 2n] });
    expect(sent.map((s) => [s.producerId, s.baseSequence])).toEqual([
      [1n, 0],
      [2n, 0],
    ]);
    expect(idempotence.resets).toBe(1);
  });

  it('another writer\'s records between a batch\'s records: each record is acknowledged at its own offset, not base + i', async () => {
    const idempotence = new Idempotence(false, async () => ({ producerId: 1n, producerEpoch: 0 }), () => undefined);
    const { lane } = scriptedLane([{ baseOffset: 20n, foreign: 2, foreignAfter: 1 }]);
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned: () => false });
    expect(outcome).toEqual({ acknowledged: true, offsets: [20n, 23n] });
  });

  it('an acknowledgement the log does not bear out fails the batch with NotInLogError, never a made-up offset', async () => {
    const idempotence = new Idempotence(false, async () => ({ producerId: 1n, producerEpoch: 0 }), () => undefined);
    const { lane } = scriptedLane([{ baseOffset: 0n, store: false }]);
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned: () => false });
    expect(outcome).toMatchObject({ acknowledged: false, error: expect.any(NotInLogError) });
  });

  it('NotInLogError is logged once, then only counted: a crashed broker\'s partition fails every batch the same way', async () => {
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (_f: object, message: string) => void warnings.push(message), error: () => undefined };
    const idempotence = new Idempotence(false, async () => ({ producerId: 1n, producerEpoch: 0 }), () => undefined);
    const { lane } = scriptedLane([{ baseOffset: 0n, store: false }, { baseOffset: 0n, store: false }, { baseOffset: 0n, store: false }]);
    const s = new BatchSender({
      retrier: new Retrier({ maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 10, multiplier: 2, jitter: 0.2 }, asapScheduler),
      idempotence,
      onRetry: () => undefined,
      log: createLog('producer', logger, 'warn'),
    });
    for (let i = 0; i < 3; i++) expect(await s.send({ topic: 't', partition: 0, records, lane, abandoned: () => false })).toMatchObject({ acknowledged: false });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/NotInLogError.*counted/);
  });

  it('a batch an attempt under a lost producer id may have stored is looked for in the log before it is sent under the new id', async () => {
    let next = 1n;
    const idempotence = new Idempotence(true, async () => ({ producerId: next++, producerEpoch: 0 }), () => undefined);
    const second = [{ value: Buffer.from('c') }, { value: Buffer.from('d') }];
    // Batch 1 is acknowledged at 0..1. Batch 2's first attempt is stored at 3..4 (after another
    // writer's record) but its answer is lost; then the broker restarts and forgets producer 1.
    const { lane, sent, log } = scriptedLane([{ baseOffset: 0n }, new ConnectionError('closed'), new ServerError('UNKNOWN_PRODUCER_ID: producer 1 not initialized')]);
    const s = sender(idempotence);
    expect(await s.send({ topic: 't', partition: 0, records, lane, abandoned: () => false })).toEqual({ acknowledged: true, offsets: [0n, 1n] });
    log.set(2n, { key: undefined, value: Buffer.from('another writer') });
    log.set(3n, { key: undefined, value: Buffer.from('c') });
    log.set(4n, { key: undefined, value: Buffer.from('d') });
    expect(await s.send({ topic: 't', partition: 0, records: second, lane, abandoned: () => false })).toEqual({ acknowledged: true, offsets: [3n, 4n] });
    // Found: not sent a third time under producer 2.
    expect(sent.map((x) => [x.producerId, x.baseSequence])).toEqual([
      [1n, 0],
      [1n, 2],
      [1n, 2],
    ]);
  });

  it('a batch given up with its fate unknown ends the session, so its sequences are never reused', async () => {
    let next = 1n;
    const idempotence = new Idempotence(true, async () => ({ producerId: next++, producerEpoch: 0 }), () => undefined);
    const { lane, sent } = scriptedLane([new ConnectionError('closed'), new ConnectionError('closed'), { baseOffset: 9n }]);
    // Two attempts: the first and one repeat.
    const outcome = await sender(idempotence, 2).send({ topic: 't', partition: 0, records, lane, abandoned: () => false });
    expect(outcome).toMatchObject({ acknowledged: false });
    expect(await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned: () => false })).toEqual({ acknowledged: true, offsets: [9n, 10n] });
    expect(sent).toEqual([
      { producerId: 1n, baseSequence: 0, records: 2 },
      { producerId: 1n, baseSequence: 0, records: 2 },
      { producerId: 2n, baseSequence: 0, records: 2 },
    ]);
  });

  it('stops when nobody waits for the batch any more, and fails at once on a non-retriable answer', async () => {
    const idempotence = new Idempotence(false, async () => ({ producerId: 1n, producerEpoch: 0 }), () => undefined);
    let attempts = 0;
    const { lane } = scriptedLane([new ConnectionError('a'), new ConnectionError('b'), new ConnectionError('c')]);
    const abandoned = () => ++attempts > 2;
    expect(await sender(idempotence).send({ topic: 't', partition: 0, records, lane, abandoned })).toBeUndefined();
    const refused = scriptedLane([new ServerError('RECORD_TOO_LARGE: 2 MB')]);
    const outcome = await sender(idempotence).send({ topic: 't', partition: 0, records, lane: refused.lane, abandoned: () => false });
    expect(outcome).toMatchObject({ acknowledged: false, error: expect.any(ServerError) });
    expect(refused.sent).toHaveLength(1);
  });
});
