/**
 * The consumer's and producers' log lines (docs/observability.md "Logging" table) against the real broker: group
 * join/sync/rebalance/leave and revokes with their reason (info), a stalled subscriber (warn), a
 * refused commit (warn), a batch given up (warn), fencing (error).
 */
import { asyncScheduler, firstValueFrom, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { LogFields, Logger } from '../../src/observability/log';
import { createLog } from '../../src/observability/log';
import { Retrier } from '../../src/client/retrier';
import { BatchSender } from '../../src/producer/batch-sender';
import { Idempotence } from '../../src/producer/idempotence';
import { watchFetches } from '../support/fetch-watch';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

interface Line {
  level: string;
  fields: LogFields;
  message: string;
}

/** A logger that keeps every line; `waitFor` resolves at the first line matching (also one already logged). */
function captureLogger(): { logger: Logger; lines: Line[]; waitFor: (match: (line: Line) => boolean) => Promise<Line> } {
  const lines: Line[] = [];
  const waiters: { match: (line: Line) => boolean; resolve: (line: Line) => void }[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => {
    const line = { level, fields, message };
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    lines,
    waitFor: (match) => {
      const seen = lines.find(match);
      return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

let admin: Client;
beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'logging-components' }));
});
afterAll(async () => {
  await admin.close();
});

describe('consumer log lines', () => {
  it('group join, sync, rebalance (revoked with its reason), assignment and leave: info, with groupId, memberId, generation', async () => {
    const topic = unique('log-group');
    const groupId = unique('g');
    await firstValueFrom(admin.createTopic$(topic, 2));
    const a = captureLogger();
    const b = captureLogger();
    const config = { bootstrapServers: [testBroker().address], groupId, topics: [topic], heartbeatIntervalMs: 300, sessionTimeoutMs: 6_000, logLevel: 'info' as const };
    const first = Consumer.create({ ...config, logger: a.logger, clientId: 'first' });
    const second = Consumer.create({ ...config, logger: b.logger, clientId: 'second' });
    const subs: Subscription[] = [];
    try {
      subs.push(first.records$.subscribe());
      const joined = await a.waitFor((l) => l.message === 'joined the group');
      expect(joined).toMatchObject({ level: 'info', fields: { component: 'consumer', groupId, clientId: 'first' } });
      expect(joined.fields.memberId).toEqual(expect.any(String));
      expect(joined.fields.generation).toEqual(expect.any(Number));
      const synced = await a.waitFor((l) => l.message.startsWith('synced with the group'));
      expect(synced.fields).toMatchObject({ groupId, memberId: joined.fields.memberId, partitions: 2 });
      await a.waitFor((l) => l.message === 'partitions assigned' && l.fields.partitions === `${topic}/0,${topic}/1`);

      // A second member: the first rebalances and gives a partition up.
      subs.push(second.records$.subscribe());
      const rebalancing = await a.waitFor((l) => l.message === 'rebalancing');
      expect(rebalancing.fields).toMatchObject({ groupId, memberId: joined.fields.memberId });
      expect(rebalancing.fields.reason).toEqual(expect.any(String));
      const revoked = await a.waitFor((l) => l.message === 'partitions revoked (rebalance)');
      expect(revoked).toMatchObject({ level: 'info', fields: { groupId, reason: 'rebalance', memberId: joined.fields.memberId } });
      await b.waitFor((l) => l.message === 'partitions assigned' && typeof l.fields.partitions === 'string' && l.fields.partitions !== '');

      for (const s of subs.splice(0)) s.unsubscribe();
      await Promise.all([first.close(), second.close()]);
      const left = await a.waitFor((l) => l.message === 'left the group');
      expect(left.fields).toMatchObject({ groupId, memberId: expect.any(String) });
      expect(b.lines.some((l) => l.message === 'partitions revoked (stopped)' && l.fields.reason === 'stopped')).toBe(true);
      // Nothing at warn or above on a healthy round.
      expect([...a.lines, ...b.lines].filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    } finally {
      for (const s of subs) s.unsubscribe();
      await Promise.all([first.close(), second.close()]);
    }
  }, 30_000);

  it('a subscriber that stalls without acknowledging: one warn line naming the partitions and what to do', async () => {
    const topic = unique('log-stall');
    await firstValueFrom(admin.createTopic$(topic, 1));
    await firstValueFrom(admin.publishBatch$(topic, Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })), { partition: 0 }));
    const log = captureLogger();
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], assign: { [topic]: [0] }, maxPollRecords: 10, maxPollIntervalMs: 300, logger: log.logger });
    const sub = consumer.records$.subscribe(); // never acknowledges
    try {
      const stall = await log.waitFor((l) => l.fields.warning === 'stall');
      expect(stall.level).toBe('warn');
      expect(stall.message).toContain(`${topic}/0`);
      expect(stall.message).toContain('record.ack()');
    } finally {
      sub.unsubscribe();
      await consumer.close();
    }
  });

  it('a commit the broker refuses: warn, with the offsets and the error code', async () => {
    const topic = unique('log-commit');
    await firstValueFrom(admin.createTopic$(topic, 1));
    await firstValueFrom(admin.publish$(topic, { value: 'x', partition: 0 }));
    const log = captureLogger();
    const fetches = watchFetches(topic);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false, logger: log.logger });
    let sub: Subscription | undefined;
    try {
      const record = await new Promise<{ ack(): void }>((resolve) => (sub = consumer.records$.subscribe({ next: resolve, error: () => undefined })));
      record.ack();
      // No fetch of the topic in flight (and none starting) while it is deleted: only the commit meets the deletion.
      consumer.pause(topic, 0);
      await fetches.idle();
      await firstValueFrom(admin.deleteTopic$(topic));
      await expect(firstValueFrom(consumer.commit$())).rejects.toThrow(/UNKNOWN_TOPIC/);
      const failed = await log.waitFor((l) => l.message.startsWith('commit failed'));
      expect(failed).toMatchObject({ level: 'warn', fields: { component: 'consumer', offsets: `${topic}/0@1`, errorCode: 'SERVER' } });
    } finally {
      fetches.stop();
      sub?.unsubscribe();
      await consumer.close();
    }
  });
});

describe('producer log lines', () => {
  it('a batch the broker refuses for good is given up: warn, with topic, partition, attempts and the error code', async () => {
    const topic = unique('log-give-up');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const log = captureLogger();
    const client = await firstValueFrom(Client.connect$(testBroker().address));
    try {
      const sender = new BatchSender({
        retrier: new Retrier({ maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10, multiplier: 2, jitter: 0.2 }, asyncScheduler),
        idempotence: new Idempotence(false, () => Promise.reject(new Error('unused')), () => undefined),
        onRetry: () => undefined,
        log: createLog('producer', log.logger, 'warn'),
      });
      // Partition 7 of a one-partition topic: refused, not retriable.
      const outcome = await sender.send({ topic, partition: 7, records: [{ value: Buffer.from('v') }], lane: { client: () => Promise.resolve(client), reset: () => undefined }, abandoned: () => false });
      expect(outcome).toMatchObject({ acknowledged: false });
      expect(log.lines).toHaveLength(1);
      expect(log.lines[0]).toMatchObject({ level: 'warn', fields: { component: 'producer', topic, partition: 7, records: 1, attempt: 1, errorCode: 'SERVER' } });
      expect(log.lines[0]!.message).toContain('giving up a batch');
    } finally {
      await client.close();
    }
  });

});
