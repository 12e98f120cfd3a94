/** Virtual-time (marble) tests of the consumer's scheduled logic: heartbeats, follower wait, commit batching, stall reports. */
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { HeartbeatResult } from '../../src/client/client-types';
import type { CommittedOffsets, ReceiverOffset } from '../../src/consumer/consumer-record';
import { awaitStable$ } from '../../src/consumer/group-join';
import { heartbeatLoop$, rejoinReasonOf } from '../../src/consumer/group-watch';
import { ServerError } from '../../src/errors';
import { StallMonitor } from '../../src/consumer/stall-monitor';
import { HealthTracker } from '../../src/consumer/consumer-health';
import { Log } from '../../src/observability/log';
import { commitOffsets } from '../../src/operators/at-least-once';

const ok: HeartbeatResult = { errorCode: 0, rebalanceInProgress: false };
const rebalancing: HeartbeatResult = { errorCode: 27, rebalanceInProgress: true };

function scheduler() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('heartbeatLoop$', () => {
  it('heartbeats every interval and emits REBALANCE_IN_PROGRESS when the coordinator answers 27', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const times: number[] = [];
      let n = 0;
      const heartbeat$ = () => {
        times.push(ts.now());
        return n++ < 3 ? cold('-a|', { a: ok }) : cold('-r|', { r: rebalancing });
      };
      expectObservable(heartbeatLoop$(heartbeat$, 10, ts)).toBe('41ms (x|)', { x: 'REBALANCE_IN_PROGRESS' });
      ts.flush();
      expect(times).toEqual([10, 20, 30, 40]);
    });
  });

  it('never overlaps heartbeats: a slow one delays the next', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const times: number[] = [];
      const heartbeat$ = () => {
        times.push(ts.now());
        return times.length < 3 ? cold('-------------a|', { a: ok }) : cold('a|', { a: rebalancing });
      };
      expectObservable(heartbeatLoop$(heartbeat$, 10, ts)).toBe('50ms (x|)', { x: 'REBALANCE_IN_PROGRESS' });
      ts.flush();
      // Ticks at 20 and 40 fall inside the 13 ms heartbeats started at 10 and 30, and are skipped.
      expect(times).toEqual([10, 30, 50]);
    });
  });

  it('turns ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID errors into rejoin reasons, other errors into errors', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const illegal = new ServerError('HEARTBEAT_FAILED: ILLEGAL_GENERATION: expected 2, got 1', 'Heartbeat');
      expectObservable(heartbeatLoop$(() => cold('-#', undefined, illegal), 5, ts)).toBe('6ms (x|)', { x: 'ILLEGAL_GENERATION' });
      const unknown = new ServerError("UNKNOWN_MEMBER_ID: 'm' in group 'g'", 'Heartbeat');
      expectObservable(heartbeatLoop$(() => cold('#', undefined, unknown), 5, ts)).toBe('5ms (x|)', { x: 'UNKNOWN_MEMBER_ID' });
      const broken = new Error('socket closed');
      expectObservable(heartbeatLoop$(() => cold('#', undefined, broken), 5, ts)).toBe('5ms #', undefined, broken);
    });
  });

  it('rejoinReasonOf finds nested codes only', () => {
    expect(rejoinReasonOf(new ServerError('SYNC_FAILED: UNKNOWN_MEMBER_ID: x'))).toBe('UNKNOWN_MEMBER_ID');
    expect(rejoinReasonOf(new ServerError('UNKNOWN_TOPIC: t'))).toBeUndefined();
    expect(rejoinReasonOf(new Error('ILLEGAL_GENERATION'))).toBeUndefined();
  });
});

describe('awaitStable$ (follower waiting for the leader)', () => {
  it('polls with heartbeats until the group is stable', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      let n = 0;
      const heartbeat$ = () => (n++ < 2 ? cold('-a|', { a: rebalancing }) : cold('-a|', { a: ok }));
      expectObservable(awaitStable$(heartbeat$, 100, 10_000, ts)).toBe('201ms (s|)', { s: 'STABLE' });
    });
  });

  it('gives up after the rebalance timeout, asking for a rejoin', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(awaitStable$(() => cold('-a|', { a: rebalancing }), 100, 1_000, ts)).toBe('1000ms (r|)', { r: 'REBALANCE_IN_PROGRESS' });
    });
  });
});

describe('commitOffsets() operator', () => {
  function fakeRecords(ts: TestScheduler, commitMarble: string) {
    const acked: bigint[] = [];
    const commits: number[] = [];
    const make = (offset: number) => {
      const receiverOffset: ReceiverOffset = {
        topicPartition: { topic: 't', partition: 0 },
        offset: BigInt(offset),
        acknowledge: () => acked.push(BigInt(offset)),
        holdBecause: () => undefined,
        commit$: (): Observable<CommittedOffsets> => {
          commits.push(offset);
          return ts.createColdObservable(commitMarble, { c: { offsets: [{ topic: 't', partition: 0, offset: BigInt(offset + 1) }] } });
        },
      };
      return { offset, receiverOffset };
    };
    return { acked, commits, make };
  }

  it('commits when the count is reached', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const { acked, commits, make } = fakeRecords(ts, '--(c|)');
      const source = hot('-abc-def-g|', { a: make(0), b: make(1), c: make(2), d: make(3), e: make(4), f: make(5), g: make(6) });
      const result = source.pipe(commitOffsets({ maxBatchSize: 3, maxIntervalMs: 1_000, scheduler: ts }));
      expectObservable(result.pipe((o) => new Observable<number>((s) => o.subscribe({ next: (b) => s.next(b.records.length), error: (e) => s.error(e), complete: () => s.complete() })))).toBe(
        '5ms x 3ms y 2ms (z|)',
        { x: 3, y: 3, z: 1 },
      );
      ts.flush();
      expect(acked).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
      // One commit per batch, through the batch's last record.
      expect(commits).toEqual([2, 5, 6]);
    });
  });

  it('commits on the interval when records trickle', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const { commits, make } = fakeRecords(ts, '(c|)');
      const source = hot('a 15ms b 30ms (c|)', { a: make(0), b: make(1), c: make(2) });
      const result = source.pipe(commitOffsets({ maxBatchSize: 100, maxIntervalMs: 10, scheduler: ts }));
      expectObservable(result.pipe((o) => new Observable<number[]>((s) => o.subscribe({ next: (b) => s.next(b.records.map((r) => r.offset)), error: (e) => s.error(e), complete: () => s.complete() })))).toBe(
        '10ms x 9ms y 26ms (z|)',
        { x: [0], y: [1], z: [2] },
      );
      ts.flush();
      expect(commits).toEqual([0, 1, 2]);
    });
  });

  it('never runs two commits at once', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const { make } = fakeRecords(ts, '-----(c|)');
      const source = hot('ab|', { a: make(0), b: make(1) });
      const result = source.pipe(commitOffsets({ maxBatchSize: 1, maxIntervalMs: 1_000, scheduler: ts }));
      expectObservable(result.pipe((o) => new Observable<number>((s) => o.subscribe({ next: (b) => s.next(b.records[0]!.offset), error: (e) => s.error(e), complete: () => s.complete() })))).toBe(
        '-----x----(y|)',
        { x: 0, y: 1 },
      );
    });
  });

  it('rejects bad options', () => {
    expect(() => commitOffsets({ maxBatchSize: 0 })).toThrow(/maxBatchSize/);
    expect(() => commitOffsets({ maxIntervalMs: -1 })).toThrow(/maxIntervalMs/);
  });
});

describe('StallMonitor (virtual time)', () => {
  it('reports a partition once it has waited thresholdMs, and clears it when it stops waiting', () => {
    const ts = scheduler();
    ts.run(() => {
      const p = { topic: 't', partition: 0, stopped: false, waitingSince: undefined as number | undefined, lastAckAt: undefined, outstanding: () => 7n };
      const reports: [number, string[]][] = [];
      const monitor = new StallMonitor(ts, 100, () => [p], (stalled) => reports.push([ts.now(), stalled.map((s) => `${s.topic}/${s.partition}@${s.since}:${s.unacknowledged}`)]));
      ts.schedule(() => {
        p.waitingSince = ts.now();
        monitor.update();
      }, 10);
      // Woken at 60 (an ack), waiting again at 70: the clock restarts.
      ts.schedule(() => {
        p.waitingSince = undefined;
        monitor.update();
      }, 60);
      ts.schedule(() => {
        p.waitingSince = ts.now();
        monitor.update();
      }, 70);
      ts.schedule(() => {
        p.waitingSince = undefined;
        monitor.update();
      }, 300);
      ts.flush();
      expect(reports).toEqual([
        [170, ['t/0@70:7']],
        [300, []],
      ]);
      monitor.stop();
    });
  });

  it('a stall is no progress, not a long queue: a waiting partition is not reported while anything is acknowledged', () => {
    const ts = scheduler();
    ts.run(() => {
      // Partition 5 waits behind the others' records (concatMap): its own acks come late, others' all along.
      const p = { topic: 't', partition: 5, stopped: false, waitingSince: undefined as number | undefined, lastAckAt: undefined as number | undefined, outstanding: () => 500n };
      let lastAck: number | undefined;
      const reports: [number, string[]][] = [];
      const monitor = new StallMonitor(
        ts,
        100,
        () => [p],
        (stalled) => reports.push([ts.now(), stalled.map((s) => `${s.topic}/${s.partition}@${s.since}:${s.unacknowledged}`)]),
        () => lastAck,
      );
      ts.schedule(() => {
        p.waitingSince = ts.now();
        monitor.update();
      }, 10);
      // Other partitions are acknowledged every 30 ms until 1,000 (ten times the threshold).
      for (let at = 30; at <= 1_000; at += 30) {
        ts.schedule(() => {
          lastAck = ts.now();
          monitor.acknowledged();
        }, at);
      }
      ts.flush();
      // Nothing acknowledged from 990 on: reported at 1,090, since when the partition has had no acknowledgement (it never had one: since it waits).
      expect(reports).toEqual([[1_090, ['t/5@10:500']]]);
      // An acknowledgement ends it at once; the partition still waits (not enough credit back), and
      // with nothing acknowledged after it, it is stalled again one threshold later.
      ts.schedule(() => {
        lastAck = ts.now();
        p.lastAckAt = ts.now();
        monitor.acknowledged();
      }, 50);
      ts.flush();
      expect(reports.slice(1)).toEqual([
        [1_140, []],
        [1_240, ['t/5@1140:500']],
      ]);
      monitor.stop();
    });
  });
});

describe('HealthTracker warnings: say once, then count', () => {
  function tracker() {
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, message, fields });
    const log = new Log({ debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, 'info', {});
    let now = 0;
    const health = new HealthTracker(log, () => now, () => []);
    return { health, lines, setNow: (ms: number) => (now = ms) };
  }

  it('a stall is logged once at warn with what is known; more partitions joining it are not logged again; a later stall is counted (info)', () => {
    const { health, lines, setNow } = tracker();
    setNow(6_000);
    health.stalls([{ topic: 't', partition: 0, since: 1_000, unacknowledged: 250 }], 5_000);
    health.stalls(
      [
        { topic: 't', partition: 0, since: 1_000, unacknowledged: 250 },
        { topic: 't', partition: 1, since: 900, unacknowledged: 300 },
      ],
      5_000,
    );
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines[0]!.message).toContain('no acknowledgement for partition t/0 since 5000 ms ago (250 records waiting)');
    expect(lines[0]!.message).toContain('none on any partition for over 5000 ms');
    expect(health.value.warningCounts.stall).toBe(1);
    expect(health.value.stalled).toHaveLength(2);
    expect(health.value.warning).toContain('t/1 since 5100 ms ago (300 records waiting)');

    health.stalls([], 5_000);
    expect(health.value.warning).toBeUndefined();
    health.stalls([{ topic: 't', partition: 0, since: 1_000, unacknowledged: 1 }], 5_000);
    expect(health.value.warningCounts.stall).toBe(2);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'info')).toEqual([expect.objectContaining({ fields: { warning: 'stall', times: 2 } })]);
  });

  it('after close() no warning holds and none is logged', () => {
    const { health, lines } = tracker();
    health.setWarning('unreachable', 'no broker answers at x');
    health.close({ state: 'closed' });
    expect(health.value).toMatchObject({ state: 'closed', warning: undefined, stalled: [] });
    health.setWarning('noTopic', 'none of the subscribed topics exists');
    health.setWarning('unreachable', undefined);
    health.setWarning('unreachable', 'no broker answers at x');
    expect(lines).toHaveLength(1);
  });
});
