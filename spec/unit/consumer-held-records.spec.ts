/**
 * Records held by `receiverOffset.holdBecause()` in a Consumer's health (issue 25: "if the
 * dead-letter produce fails, the partition waits and health$ says why"), without a broker: the
 * consumer's own parts (PartitionState, OwnedPartitions, Acknowledgements, HealthTracker,
 * StallMonitor) wired as consumer.ts wires them, in virtual time. A held record is listed with its
 * partition, offset, reason, error (class and message) and since when; the `held` warning is logged
 * once and then counted; acknowledgements that pass it, a new epoch (seek), a revoke and close()
 * end it; a stall of a held partition says what it waits on.
 */
import { EMPTY, VirtualTimeScheduler } from 'rxjs';
import { Acknowledgements } from '../../src/consumer/acknowledgements';
import { HealthTracker, type ConsumerHealth } from '../../src/consumer/consumer-health';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { OwnedPartitions } from '../../src/consumer/owned-partitions';
import { PartitionState } from '../../src/consumer/partition-state';
import { StallMonitor } from '../../src/consumer/stall-monitor';
import { ServerError } from '../../src/errors';
import { createLog } from '../../src/observability/log';

function capture() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, message, fields });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const MAX_POLL_INTERVAL_MS = 1_000;

/** The consumer's parts as consumer.ts wires them, one owned partition `t/0` with offsets 0–9 emitted. */
function consumerParts(maxPollRecords = 1_000) {
  const scheduler = new VirtualTimeScheduler();
  const log = capture();
  const owned = new OwnedPartitions();
  const tracker = new HealthTracker(
    createLog('consumer', log.logger, 'info'),
    () => scheduler.now(),
    () => owned.all().map((s) => ({ topic: s.topic, partition: s.partition })),
    () => owned.paused(),
    () => owned.held(),
  );
  const emitted: ConsumerHealth[] = [];
  tracker.health$.subscribe((h) => emitted.push(h));
  const stalls = new StallMonitor(scheduler, MAX_POLL_INTERVAL_MS, () => owned.values(), (stalled) => tracker.stalls(stalled, MAX_POLL_INTERVAL_MS), () => acks.lastAckAt);
  const acks: Acknowledgements = new Acknowledgements({
    maxPollRecords,
    config: { scheduler },
    owned,
    tracker,
    onAck: () => stalls.acknowledged(),
    holdsChanged: () => {
      stalls.update();
      tracker.update({});
    },
    commit$: () => EMPTY,
  });
  const state = new PartitionState('t', 0, 0n, undefined);
  owned.add(state);
  const emit = (from: number, to: number): ConsumerRecord[] => {
    const out: ConsumerRecord[] = [];
    for (let o = from; o < to; o++) {
      const message = { offset: BigInt(o), partition: 0, key: undefined, value: Buffer.from(`v${o}`), timestamp: 0n, headers: [] };
      out.push(acks.record(message, message.value, state, state.epoch));
    }
    state.position = state.emittedEnd = state.delivered = BigInt(to);
    return out;
  };
  const advance = (ms: number): void => {
    scheduler.schedule(() => undefined, ms);
    scheduler.maxFrames = scheduler.now() + ms;
    scheduler.flush();
  };
  return { scheduler, log, owned, tracker, emitted, stalls, acks, state, emit, advance };
}

const dlqDown = () => new ServerError('UNKNOWN_TOPIC_OR_PARTITION: topic t-dlq not found');
const DLQ_DOWN_MESSAGE = dlqDown().message;

describe('a record held by receiverOffset.holdBecause() in health$', () => {
  it('is listed with its partition, offset, reason, error and since when; the warning is logged once, then counted; the ack that passes it ends it', () => {
    const { log, tracker, emitted, advance, emit } = consumerParts();
    const records = emit(0, 10);
    advance(100);
    records[7]!.receiverOffset.holdBecause('waiting on the dead-letter topic t-dlq', dlqDown());
    const held = tracker.current().held;
    expect(held).toEqual([
      {
        topic: 't',
        partition: 0,
        offset: 7n,
        reason: 'waiting on the dead-letter topic t-dlq',
        error: { class: 'ServerError', message: DLQ_DOWN_MESSAGE, code: 'SERVER' },
        since: 100,
      },
    ]);
    expect(emitted.at(-1)!.held).toEqual(held);
    expect(DLQ_DOWN_MESSAGE).toMatch(/UNKNOWN_TOPIC_OR_PARTITION: topic t-dlq not found/);
    expect(tracker.current().warning).toContain(`t/0 at offset 7: waiting on the dead-letter topic t-dlq: ServerError: ${DLQ_DOWN_MESSAGE}`);
    expect(tracker.current().warningCounts.held).toBe(1);
    const warnings = log.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ warning: 'held' });
    expect(warnings[0]!.message).toMatch(/waiting on the dead-letter topic t-dlq/);

    // Held again with a newer error: the error changes, `since` stays, nothing more is logged.
    advance(200);
    records[7]!.receiverOffset.holdBecause('waiting on the dead-letter topic t-dlq', new Error('connect ECONNREFUSED'));
    expect(tracker.current().held).toMatchObject([{ offset: 7n, since: 100, error: { class: 'Error', message: 'connect ECONNREFUSED', code: undefined } }]);
    expect(tracker.current().warningCounts.held).toBe(1);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);

    // Acknowledging the records before it does not end it; acknowledging it does.
    records[6]!.ack();
    expect(tracker.current().held).toHaveLength(1);
    records[7]!.ack();
    expect(tracker.current().held).toEqual([]);
    expect(emitted.at(-1)!.held).toEqual([]);
    expect(tracker.current().warning).toBeUndefined();

    // A later hold is a new appearance: counted, logged at info.
    records[9]!.receiverOffset.holdBecause('waiting on the dead-letter topic t-dlq', 'a string thrown');
    expect(tracker.current().held).toMatchObject([{ offset: 9n, error: { class: 'string', message: 'a string thrown' } }]);
    expect(tracker.current().warningCounts.held).toBe(2);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(log.lines.filter((l) => l.level === 'info' && l.fields['warning'] === 'held')).toHaveLength(1);
    // A later record's acknowledgement covers it (acknowledgements are cumulative).
    emit(10, 12)[1]!.ack();
    expect(tracker.current().held).toEqual([]);
  });

  it('ignores holds of acknowledged records and of records from before a seek or of a revoked partition; a seek, a revoke and close() end a hold', () => {
    const { tracker, state, owned, emit } = consumerParts();
    const records = emit(0, 10);
    records[4]!.ack();
    records[3]!.receiverOffset.holdBecause('already acknowledged');
    expect(tracker.current().held).toEqual([]);

    records[8]!.receiverOffset.holdBecause('waiting', new Error('e'));
    expect(tracker.current().held).toHaveLength(1);
    owned.seek('t', 0, 5n); // a new epoch: the hold is over, and the old epoch's records cannot hold
    tracker.update({});
    expect(tracker.current().held).toEqual([]);
    expect(tracker.current().warning).toBeUndefined();
    records[9]!.receiverOffset.holdBecause('stale', new Error('e'));
    expect(tracker.current().held).toEqual([]);

    const fresh = emit(5, 10);
    fresh[2]!.receiverOffset.holdBecause('waiting', new Error('e'));
    expect(tracker.current().held).toMatchObject([{ offset: 7n }]);
    state.stopped = true; // revoked
    tracker.update({});
    expect(tracker.current().held).toEqual([]);
    fresh[3]!.receiverOffset.holdBecause('revoked', new Error('e'));
    expect(tracker.current().held).toEqual([]);

  });

  it('close(): the last health has nothing held and no warning, and nothing is logged after it', () => {
    const { tracker, log, emit } = consumerParts();
    const records = emit(0, 3);
    records[1]!.receiverOffset.holdBecause('waiting', new Error('e'));
    expect(tracker.current().held).toHaveLength(1);
    tracker.close({ state: 'closed' });
    expect(tracker.value).toMatchObject({ state: 'closed', held: [], warning: undefined });
    const logged = log.lines.length;
    records[2]!.receiverOffset.holdBecause('after close', new Error('e'));
    expect(tracker.value.held).toEqual([]);
    expect(log.lines).toHaveLength(logged);
  });

  it('a stall of a held partition says what it waits on, not that the subscriber forgot to acknowledge', () => {
    const { tracker, state, stalls, emit, advance } = consumerParts(8);
    const records = emit(0, 8);
    // The partition has no credit left: it waits for acknowledgements.
    state.waitingSince = 0;
    stalls.update();
    records[0]!.receiverOffset.holdBecause('waiting on the dead-letter topic t-dlq', dlqDown());
    advance(MAX_POLL_INTERVAL_MS + 10);
    const health = tracker.current();
    expect(health.stalled).toMatchObject([{ topic: 't', partition: 0, unacknowledged: 8, heldBy: { offset: 0n, reason: 'waiting on the dead-letter topic t-dlq' } }]);
    expect(health.warning).toMatch(/t\/0 since \d+ ms ago \(8 records waiting; held at offset 0: waiting on the dead-letter topic t-dlq: ServerError: [^)]*UNKNOWN_TOPIC_OR_PARTITION/);
    expect(health.warning).toMatch(/cannot acknowledge the held record until what holds it is resolved/);
    expect(health.warning).not.toMatch(/call record.ack\(\)/);
    expect(health.warningCounts).toMatchObject({ stall: 1, held: 1 });
    records[0]!.ack();
    expect(tracker.current().stalled).toEqual([]);
    expect(tracker.current().held).toEqual([]);
    expect(tracker.current().warning).toBeUndefined();
  });
});

describe("a delivered record's ack and offset handle", () => {
  it('acknowledge and ack work passed around on their own and on a spread copy; holdBecause and commit$ as methods', async () => {
    const { state, emit, tracker } = consumerParts();
    const records = emit(0, 6);
    expect(records[0]!.ack).toBe(records[0]!.receiverOffset.acknowledge);
    const ack = records[0]!.ack;
    ack(); // detached, as in `.then(record.ack)`
    expect(state.acked).toBe(1n);
    const { acknowledge } = records[1]!.receiverOffset;
    acknowledge();
    expect(state.acked).toBe(2n);
    const copy = { ...records[2]!, value: 'parsed' }; // as `map((r) => ({ ...r, value: parse(r.value) }))`
    copy.ack();
    expect(state.acked).toBe(3n);
    const next = { ...records[3]! };
    next.receiverOffset.holdBecause('waiting on something');
    expect(tracker.current().held.map((h) => h.offset)).toEqual([3n]);
    expect(records[3]!.receiverOffset.topicPartition).toEqual({ topic: 't', partition: 0 });
    expect(records[3]!.receiverOffset.offset).toBe(3n);
    await new Promise<void>((done) => next.receiverOffset.commit$().subscribe({ complete: done }));
    expect(state.acked).toBe(4n); // commit$ acknowledges first
    expect(tracker.current().held).toEqual([]);
  });
});
