/** Virtual-time tests of the member-side watches: the max-poll-interval watchdog and the partition-count watch. */
import { Observable, of, takeUntil, throwError, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { HeartbeatResult } from '../../src/client/client-types';
import { REBALANCE_IN_PROGRESS_CODE } from '../../src/client/group-operations';
import { awaitStable$, isReadyFor, joinSubscriptions, parseSubscriptions } from '../../src/consumer/group-join';
import { resolveConsumerConfig } from '../../src/consumer/consumer-config';
import { ConfigError } from '../../src/errors';
import { drainWait$, heartbeatLoop$, partitionCountWatch$, pollCheckPeriod, pollWatchdog$, sameCounts, type PartitionCounts } from '../../src/consumer/group-watch';

function scheduler() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('pollWatchdog$', () => {
  it('checks every fifth of the interval, at most every second', () => {
    expect(pollCheckPeriod(1_500)).toBe(300);
    expect(pollCheckPeriod(300_000)).toBe(1_000);
    expect(pollCheckPeriod(3)).toBe(1);
  });

  it('fires at the first check after records waited longer than the interval without an acknowledgement', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      // Records waiting from the start, never acknowledged: checks at 20, 40, … ; 100 is not > 100, 120 is.
      expectObservable(pollWatchdog$({ waiting: () => true, acks: () => 0 }, 100, ts)).toBe('120ms (x|)', { x: 'MAX_POLL_INTERVAL_EXCEEDED' });
    });
  });

  it('every acknowledgement restarts the clock; it does not fire while acknowledgements keep coming', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      // An ack every 90 ms until 450, then none. Checks run every 20 ms; the check at 460 sees the
      // last ack and restarts the clock, so the first check more than 100 ms later fires: 580.
      const acks = () => Math.min(5, Math.floor(ts.now() / 90));
      expectObservable(pollWatchdog$({ waiting: () => true, acks }, 100, ts)).toBe('580ms (x|)', { x: 'MAX_POLL_INTERVAL_EXCEEDED' });
    });
  });

  it('does not count time when nothing is waiting, and the clock starts when records start waiting', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      // Idle (nothing emitted or all acknowledged) until 1,000; then records wait, unacknowledged.
      const probe = { waiting: () => ts.now() > 1_000, acks: () => 0 };
      expectObservable(pollWatchdog$(probe, 100, ts)).toBe('1120ms (x|)', { x: 'MAX_POLL_INTERVAL_EXCEEDED' });
    });
  });

  it('never fires when nothing waits', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      expectObservable(pollWatchdog$({ waiting: () => false, acks: () => 0 }, 100, ts), '10s !').toBe('');
    });
  });
});

describe('partitionCountWatch$', () => {
  const counts = (entries: [string, number][]): PartitionCounts => new Map(entries);

  it('re-reads every interval and emits once when a count differs from the baseline', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const reads: number[] = [];
      const read = () => {
        reads.push(ts.now());
        return of(counts([['a', ts.now() >= 300 ? 4 : 2]]));
      };
      expectObservable(partitionCountWatch$(read, counts([['a', 2]]), 100, ts)).toBe('300ms (x|)', { x: 'METADATA_CHANGED' });
      ts.flush();
      expect(reads).toEqual([100, 200, 300]);
    });
  });

  it('skips a failed read and tries again at the next interval', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      let n = 0;
      const read = (): Observable<PartitionCounts> => (n++ === 0 ? throwError(() => new Error('connection lost')) : of(counts([['a', 2], ['b', 1]])));
      expectObservable(partitionCountWatch$(read, counts([['a', 2], ['b', 0]]), 100, ts)).toBe('200ms (x|)', { x: 'METADATA_CHANGED' });
    });
  });

  it('a subscribed topic that does not exist is looked for again after 1 s, 2 s, 4 s, then every 5 s, besides the interval', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const reads: number[] = [];
      // The topic is created at 20 s.
      const read = () => {
        reads.push(ts.now());
        return of(counts([['a', 2], ['b', ts.now() >= 20_000 ? 3 : 0]]));
      };
      expectObservable(partitionCountWatch$(read, counts([['a', 2], ['b', 0]]), 300_000, ts)).toBe('22000ms (x|)', { x: 'METADATA_CHANGED' });
      ts.flush();
      expect(reads).toEqual([1_000, 3_000, 7_000, 12_000, 17_000, 22_000]);
    });
  });

  it('topics that all exist: only the interval (no extra reads)', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const reads: number[] = [];
      const read = () => {
        reads.push(ts.now());
        return of(counts([['a', 2]]));
      };
      expectObservable(partitionCountWatch$(read, counts([['a', 2]]), 300_000, ts).pipe(takeUntil(timer(700_000)))).toBe('700000ms |');
      ts.flush();
      expect(reads).toEqual([300_000, 600_000]);
    });
  });

  it('compares counts of every topic', () => {
    expect(sameCounts(counts([['a', 1], ['b', 2]]), counts([['b', 2], ['a', 1]]))).toBe(true);
    expect(sameCounts(counts([['a', 1]]), counts([['a', 2]]))).toBe(false);
    expect(sameCounts(counts([['a', 1]]), counts([['a', 1], ['b', 0]]))).toBe(false);
  });
});

describe('drainWait$ (a revoke waiting for downstream, maxDelayRebalanceMs)', () => {
  it('emits DRAINED at once when nothing is outstanding', () => {
    scheduler().run(({ expectObservable, cold }) => {
      expectObservable(drainWait$(() => true, cold('-'), 1_000, undefined as never)).toBe('(d|)', { d: 'DRAINED' });
    });
  });

  it('emits DRAINED on the acknowledgement that completes it, without waiting for a poll', () => {
    const ts = scheduler();
    ts.run(({ expectObservable, cold }) => {
      let outstanding = 2;
      const acks$ = cold('--a--a', { a: undefined }).pipe();
      const counted = new Observable<void>((subscriber) =>
        acks$.subscribe(() => {
          outstanding--;
          subscriber.next();
        }),
      );
      expectObservable(drainWait$(() => outstanding === 0, counted, 1_000, ts, 100)).toBe('-----(d|)', { d: 'DRAINED' });
    });
  });

  it('also notices by polling (downstream gone) and gives up after maxDelayMs', () => {
    const ts = scheduler();
    ts.run(({ expectObservable, cold }) => {
      let gone = false;
      ts.schedule(() => (gone = true), 230);
      expectObservable(drainWait$(() => gone, cold('-'), 1_000, ts, 100)).toBe('300ms (d|)', { d: 'DRAINED' });
      expectObservable(drainWait$(() => false, cold('-'), 1_000, ts, 100)).toBe('1000ms (t|)', { t: 'TIMEOUT' });
    });
  });
});

describe('group membership timing', () => {
  const rebalancing: HeartbeatResult = { errorCode: REBALANCE_IN_PROGRESS_CODE, rebalanceInProgress: true };

  it('a follower still waiting after recheckMs asks to join again (the leader may be gone)', () => {
    scheduler().run(({ expectObservable, cold }) => {
      expectObservable(awaitStable$(() => cold('-a|', { a: rebalancing }), 100, 30_000, undefined as never, 1_000)).toBe('1000ms (r|)', { r: 'RECHECK' });
    });
  });

  it('the first heartbeat of a generation can come early', () => {
    const ts = scheduler();
    ts.run(({ expectObservable, cold }) => {
      const times: number[] = [];
      const heartbeat$ = () => {
        times.push(ts.now());
        return cold('a|', { a: rebalancing });
      };
      expectObservable(heartbeatLoop$(heartbeat$, 3_000, ts, 250)).toBe('250ms (x|)', { x: 'REBALANCE_IN_PROGRESS' });
    });
  });
});

describe('readiness markers in JoinGroup subscriptions', () => {
  it('round-trips and tells ready, revoking and other clients apart', () => {
    const ready = parseSubscriptions(joinSubscriptions(['a', 'b'], 7));
    expect(ready.topics).toEqual(['a', 'b']);
    expect(isReadyFor(ready.readiness, 7)).toBe(true);
    expect(isReadyFor(ready.readiness, 8)).toBe(false);
    const revoking = parseSubscriptions(joinSubscriptions(['a'], undefined));
    expect(revoking.topics).toEqual(['a']);
    expect(isReadyFor(revoking.readiness, 0)).toBe(false);
    // A member of another client (no marker) is never waited for.
    expect(isReadyFor(parseSubscriptions(['a']).readiness, 3)).toBe(true);
    // Markers are not valid topic names (':' is refused by rivvend), so they never match a topic.
    for (const entry of [...joinSubscriptions([], 1), ...joinSubscriptions([], undefined)]) expect(entry).toContain(':');
  });
});

describe('maxDelayRebalanceMs', () => {
  it('defaults to 10 s, is clamped to leave the leader a heartbeat within rebalanceTimeoutMs, and refuses negatives', () => {
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'] }).maxDelayRebalanceMs).toBe(10_000);
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], maxDelayRebalanceMs: 0 }).maxDelayRebalanceMs).toBe(0);
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], rebalanceTimeoutMs: 5_000, heartbeatIntervalMs: 1_000 }).maxDelayRebalanceMs).toBe(4_000);
    expect(() => resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], maxDelayRebalanceMs: -1 })).toThrow(ConfigError);
  });
});
