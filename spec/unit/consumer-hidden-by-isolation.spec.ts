/**
 * A read_committed Consumer names the gaps it steps over (issue 20 §1.4): offsets the broker left
 * out of a read_committed answer are checked against a read_uncommitted read of the same offsets.
 * Records there = hidden by isolation (hidden$, health$.hiddenByIsolation, one warning per
 * partition) — never an 'unreadable' truncation, never silent. Nothing there = transaction
 * markers: stepped over without a report. Against a scripted fake broker that answers like
 * rivvend 0.0.22 (read a range of the log, then filter it).
 */
import type { Subscription } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer';
import type { HiddenRecordsEvent, TruncationEvent } from '../../src/consumer/consumer-health';
import type { LogFields } from '../../src/observability/log';
import type { MessageData } from '../../src/protocol/response-schema';
import { records, startHostileConsumerBroker, type ConsumeRequest, type HostileConsumerBroker } from '../support/hostile-consumer-broker';
import { until } from '../support/wait';

/**
 * A partition log: offset → 'data' (visible to all), 'hidden' (an aborted transaction's record:
 * read_uncommitted shows it, read_committed does not) or 'marker' (a control record: shown to neither).
 */
type Entry = 'data' | 'hidden' | 'marker';

/** rivvend's handle_consume: read up to maxMessages entries from the offset, then filter by isolation level. */
function answer(log: Entry[], request: ConsumeRequest): MessageData[] {
  const from = Number(request.offset);
  const window = log.slice(from, from + request.maxMessages);
  const out: MessageData[] = [];
  window.forEach((entry, i) => {
    if (entry === 'marker' || (entry === 'hidden' && request.isolationLevel === 1)) return;
    out.push(...records(BigInt(from + i), 1));
  });
  return out;
}

interface Run {
  broker: HostileConsumerBroker;
  consumer: Consumer;
  offsets: bigint[];
  hidden: HiddenRecordsEvent[];
  truncations: TruncationEvent[];
  warnings: string[];
  stop(): Promise<void>;
}

async function run(log: Entry[], maxPollRecords = 500): Promise<Run> {
  const broker = await startHostileConsumerBroker({
    consume: (request) => ({ type: 'Messages', messages: answer(log, request) }),
    bounds: { earliest: 0n, latest: BigInt(log.length) },
  });
  const warnings: string[] = [];
  const capture = (_fields: LogFields, message: string) => warnings.push(message);
  const consumer = Consumer.create({
    bootstrapServers: [broker.address],
    groupId: 'hidden',
    assign: { t: [0] },
    enableAutoCommit: false,
    isolationLevel: 'read_committed',
    maxPollRecords,
    fetchMaxWaitMs: 0,
    logger: { debug: () => undefined, info: () => undefined, warn: capture, error: capture },
  });
  const r: Run = { broker, consumer, offsets: [], hidden: [], truncations: [], warnings, stop: async () => undefined };
  const subscriptions: Subscription[] = [
    consumer.hidden$.subscribe((e) => r.hidden.push(e)),
    consumer.truncations$.subscribe((e) => r.truncations.push(e)),
    consumer.records$.subscribe((record) => {
      r.offsets.push(record.offset);
      record.ack();
    }),
  ];
  r.stop = async () => {
    for (const s of subscriptions) s.unsubscribe();
    await consumer.close();
    await broker.stop();
  };
  return r;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => BigInt(from + i));

describe('read_committed gaps', () => {
  it('records hidden between visible ones: reported as hidden-by-isolation with their count; markers not counted', async () => {
    // 0–1 data, 2–4 hidden (an aborted transaction), 5 its abort marker, 6–9 data.
    const log: Entry[] = ['data', 'data', 'hidden', 'hidden', 'hidden', 'marker', 'data', 'data', 'data', 'data'];
    const r = await run(log);
    try {
      await until(() => r.offsets.length === 6 && r.hidden.length === 1, 10_000, 'offsets 0–1 and 6–9 seen, one hidden range');
      expect(r.offsets).toEqual([0n, 1n, 6n, 7n, 8n, 9n]);
      expect(r.hidden).toEqual([expect.objectContaining({ type: 'hidden-by-isolation', topic: 't', partition: 0, from: 2n, to: 5n, records: 3 })]);
      expect(r.truncations).toEqual([]);
      const health = r.consumer.health();
      expect(health.hiddenByIsolation).toBe(3);
      expect(health.lastHidden).toEqual(r.hidden[0]);
      expect(health.truncations).toBe(0);
    } finally {
      await r.stop();
    }
  });

  it('a whole read_committed answer hidden (the empty-answer path): hidden-by-isolation, not an unreadable truncation, logged once per partition', async () => {
    // Three aborted transactions of 4 records, each followed by its marker, then data. With
    // maxPollRecords 4 every read_committed answer of a transaction is empty.
    const txn: Entry[] = ['hidden', 'hidden', 'hidden', 'hidden', 'marker'];
    const log: Entry[] = [...txn, ...txn, ...txn, 'data', 'data'];
    const r = await run(log, 4);
    try {
      await until(() => r.offsets.length === 2, 10_000, 'two records seen');
      expect(r.offsets).toEqual([15n, 16n]);
      expect(r.truncations).toEqual([]);
      expect(r.hidden.reduce((n, e) => n + e.records, 0)).toBe(12);
      expect(r.hidden.every((e) => e.type === 'hidden-by-isolation')).toBe(true);
      expect(r.consumer.health().hiddenByIsolation).toBe(12);
      // Logged once, then counted.
      expect(r.warnings.filter((w) => /hides records that read_uncommitted shows/.test(w))).toHaveLength(1);
      expect(r.warnings.filter((w) => /unreadable/.test(w))).toEqual([]);
    } finally {
      await r.stop();
    }
  });

  it('gaps of markers only (committed transactions): stepped over without any report', async () => {
    const log: Entry[] = ['data', 'data', 'marker', 'data', 'marker', 'marker', 'data', 'data'];
    const r = await run(log);
    try {
      await until(() => r.offsets.length === 5, 10_000, 'five records seen');
      expect(r.offsets).toEqual([0n, 1n, 3n, 6n, 7n]);
      // Give the gap check (a read_uncommitted read after the emission) time to run and report nothing.
      await until(() => r.broker.consumes() >= 2, 10_000, 'a second Consume request');
      expect(r.hidden).toEqual([]);
      expect(r.truncations).toEqual([]);
      expect(r.consumer.health().hiddenByIsolation).toBe(0);
    } finally {
      await r.stop();
    }
  });

  it('covers every offset: each one is emitted, hidden (reported) or a marker', async () => {
    const pattern: Entry[] = ['data', 'hidden', 'hidden', 'marker', 'data', 'data', 'marker', 'hidden', 'marker'];
    const log: Entry[] = Array.from({ length: 12 }, () => pattern).flat();
    const r = await run(log, 7);
    try {
      const visible = log.flatMap((e, i) => (e === 'data' ? [BigInt(i)] : []));
      const hiddenCount = log.filter((e) => e === 'hidden').length;
      await until(() => r.offsets.length === visible.length && r.consumer.health().hiddenByIsolation === hiddenCount, 10_000, 'every visible record seen, every hidden one counted');
      expect(r.offsets).toEqual(visible);
      const reported = new Set(r.hidden.flatMap((e) => range(Number(e.from), Number(e.to))));
      for (let i = 0; i < log.length; i++) if (log[i] === 'hidden') expect(reported.has(BigInt(i))).toBe(true);
      expect(r.truncations).toEqual([]);
    } finally {
      await r.stop();
    }
  });
});
