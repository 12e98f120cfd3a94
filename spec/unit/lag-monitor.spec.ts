import { asyncScheduler, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { lagMonitor$, totalLag, type LagSource, type PartitionLag } from '../../src/consumer/lag-monitor';

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('lagMonitor$', () => {
  it('reads every owned partition each interval; lag is log end − position, never negative', () => {
    testScheduler().run(({ expectObservable, cold }) => {
      const ends = [10n, 11n, 20n, 21n];
      let asked = 0;
      const source: LagSource = {
        partitions: () => [
          { topic: 't', partition: 0, position: 4n, committed: 3n, lane: 'fetch-0' },
          { topic: 't', partition: 1, position: 30n, committed: undefined, lane: 'fetch-1' },
        ],
        logEnd$: () => cold('-(a|)', { a: ends[asked++]! }),
      };
      const first: PartitionLag[] = [
        { topic: 't', partition: 0, position: 4n, committed: 3n, logEnd: 10n, lag: 6n },
        { topic: 't', partition: 1, position: 30n, committed: undefined, logEnd: 11n, lag: 0n },
      ];
      const second: PartitionLag[] = [
        { topic: 't', partition: 0, position: 4n, committed: 3n, logEnd: 20n, lag: 16n },
        { topic: 't', partition: 1, position: 30n, committed: undefined, logEnd: 21n, lag: 0n },
      ];
      expectObservable(lagMonitor$(source, 5, asyncScheduler), '^ 7ms !').toBe('-a----b', { a: first, b: second });
      expect(totalLag(first)).toBe(6n);
    });
  });

  it('a round still under way when the next is due is not doubled; a failing partition is left out of its round', () => {
    testScheduler().run(({ expectObservable, cold }) => {
      const source: LagSource = {
        partitions: () => [
          { topic: 't', partition: 0, position: 0n, committed: undefined, lane: 'fetch-0' },
          { topic: 'u', partition: 0, position: 0n, committed: undefined, lane: 'fetch-0' },
        ],
        logEnd$: (_lane, topic) => {
          return topic === 'u' ? throwError(() => new Error('gone')) : cold('---(a|)', { a: 5n });
        },
      };
      // Interval 2, answers take 3: the rounds at 0 and 4 run, the one due at 2 is skipped.
      const lag = [{ topic: 't', partition: 0, position: 0n, committed: undefined, logEnd: 5n, lag: 5n }];
      expectObservable(lagMonitor$(source, 2, asyncScheduler), '^ 8ms !').toBe('---a---a', { a: lag });
    });
  });

  it('emits an empty list while nothing is owned', () => {
    testScheduler().run(({ expectObservable }) => {
      const source: LagSource = { partitions: () => [], logEnd$: () => throwError(() => new Error('never asked')) };
      expectObservable(lagMonitor$(source, 3, asyncScheduler), '^ 4ms !').toBe('a--a', { a: [] });
    });
  });
});
