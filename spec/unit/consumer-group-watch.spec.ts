/** Virtual-time tests of the member-side watches: the max-poll-interval watchdog and the partition-count watch. */
import { Observable, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { partitionCountWatch$, pollCheckPeriod, pollWatchdog$, sameCounts, type PartitionCounts } from '../../src/consumer/group-watch';

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

  it('compares counts of every topic', () => {
    expect(sameCounts(counts([['a', 1], ['b', 2]]), counts([['b', 2], ['a', 1]]))).toBe(true);
    expect(sameCounts(counts([['a', 1]]), counts([['a', 2]]))).toBe(false);
    expect(sameCounts(counts([['a', 1]]), counts([['a', 1], ['b', 0]]))).toBe(false);
  });
});
