/** Virtual-time (marble) tests of the consumer's scheduled logic: heartbeats, follower wait, commit batching, stall reports. */
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { HeartbeatResult } from '../../src/client/client-types';
import type { CommittedOffsets, ReceiverOffset } from '../../src/consumer/consumer-record';
import { awaitStable$ } from '../../src/consumer/group-join';
import { heartbeatLoop$, rejoinReasonOf } from '../../src/consumer/group-watch';
import { ServerError } from '../../src/errors';
import { StallMonitor } from '../../src/consumer/stall-monitor';
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
      const p = { topic: 't', partition: 0, stopped: false, waitingSince: undefined as number | undefined, outstanding: () => 7n };
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
});
