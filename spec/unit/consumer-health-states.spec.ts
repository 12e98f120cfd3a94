/**
 * A Consumer's health$ in virtual time (issue 21 §5): a consumer that has never reached a broker is
 * 'connecting' (not 'rebalancing'), warns once, and says nothing after close(); health$ carries the
 * record counts at most one interval behind health(), also while a session stops.
 */
import { Subject, VirtualTimeScheduler, throwError } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer';
import { HealthTracker } from '../../src/consumer/consumer-health';
import { OwnedPartitions } from '../../src/consumer/owned-partitions';
import { startSessionTimers } from '../../src/consumer/session-timers';
import { ConnectionError } from '../../src/errors';
import { Log } from '../../src/observability/log';
import { driveVirtualTime } from '../support/virtual-time';

function capture() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, message, fields });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Lets virtual time run for `ms` (promises settle between steps). */
async function advance(scheduler: VirtualTimeScheduler, ms: number): Promise<void> {
  const until = scheduler.now() + ms;
  for (let horizon = scheduler.now() + 10; horizon <= until; horizon += 10) {
    await new Promise((resolve) => setImmediate(resolve));
    scheduler.maxFrames = horizon;
    scheduler.flush();
  }
}

describe('Consumer health$ states (virtual time)', () => {
  for (const mode of [{ topics: ['t'], groupId: 'g' }, { assign: { t: [0] } }]) {
    it(`never connected (${'topics' in mode ? 'group' : 'static'}): 'connecting', one warning, nothing after close()`, async () => {
      const scheduler = new VirtualTimeScheduler();
      const log = capture();
      const refused = () => throwError(() => new ConnectionError('connect ECONNREFUSED 127.0.0.1:9'));
      const consumer = Consumer.create(
        { bootstrapServers: ['127.0.0.1:9'], ...mode, scheduler, logger: log.logger, logLevel: 'warn', retry: { maxAttempts: 1_000 } },
        { connect: refused },
      );
      const states: string[] = [];
      consumer.health$.subscribe((h) => states.push(h.state));
      const subscription = consumer.records$.subscribe({ error: () => undefined });
      await advance(scheduler, 30_000);
      expect(consumer.health()).toMatchObject({ state: 'connecting', warningCounts: { unreachable: 1, stall: 0, noTopic: 0 } });
      expect(consumer.health().warning).toMatch(/no broker answers/);
      expect(states).not.toContain('rebalancing');
      expect(states).not.toContain('joining');
      expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
      subscription.unsubscribe();
      const closing = consumer.close();
      await driveVirtualTime(scheduler, closing);
      const logged = log.lines.length;
      await advance(scheduler, 30_000);
      expect(log.lines).toHaveLength(logged);
      expect(consumer.health()).toMatchObject({ state: 'closed', warning: undefined });
    });
  }
});

describe('health$ record counts', () => {
  it('are refreshed every interval while the session stops (a revoke waiting for acknowledgements), and stop with its end', () => {
    const scheduler = new VirtualTimeScheduler();
    const tracker = new HealthTracker(Log.silent, () => scheduler.now(), () => []);
    const stop$ = new Subject<void>();
    const ended$ = new Subject<void>();
    const host = {
      config: { enableAutoCommit: false, scheduler, lagIntervalMs: 1_000_000 } as never,
      tracker,
      owned: new OwnedPartitions(),
      lagReadings: { next: () => undefined },
      client: () => Promise.reject(new Error('no client in this spec')),
      commit$: () => {
        throw new Error('no commit in this spec');
      },
    };
    startSessionTimers(host, { stopped: false, stop$, ended$ });
    // The session starts stopping at 100; downstream acknowledges during the drain.
    scheduler.schedule(() => stop$.next(), 100);
    scheduler.schedule(() => (tracker.recordsAcknowledged += 5), 1_500);
    scheduler.maxFrames = 2_000;
    scheduler.flush();
    expect(tracker.current().recordsAcknowledged).toBe(5);
    // health$ is at most one interval (1 s) behind health().
    expect(tracker.value.recordsAcknowledged).toBe(5);
    ended$.next();
    tracker.recordsAcknowledged += 1;
    scheduler.maxFrames = 10_000;
    scheduler.flush();
    expect(tracker.value.recordsAcknowledged).toBe(5);
  });
});
