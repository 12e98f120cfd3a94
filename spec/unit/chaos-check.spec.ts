/**
 * The chaos run's own judgements (spec/chaos/chaos-check.ts) on hand-made logs: each counter
 * counts what it names, and what a broker restart explains goes to its own column.
 */
import { checkEos, checkGroup, ProgressGaps, taintedBy, type LogRecord, type RestartRecord } from '../chaos/chaos-check';

const rec = (partition: number, offset: number, value: string): LogRecord => ({ partition, offset: BigInt(offset), value });

describe('checkGroup', () => {
  it('counts never-processed records and duplicates beyond the copies in the log', () => {
    const log = [rec(0, 0, 'a'), rec(0, 1, 'b'), rec(0, 2, 'c'), rec(0, 3, 'c')];
    const processed = [rec(0, 0, 'a'), rec(0, 0, 'a'), rec(0, 2, 'c'), rec(0, 3, 'c'), rec(0, 9, 'z')];
    const g = checkGroup(log, processed);
    expect(g).toMatchObject({ logRecords: 3, neverProcessed: 1, duplicates: 1, processedNotInLog: 1 });
    expect(g.duplicateRatio).toBeCloseTo(1 / 3);
    expect(checkGroup(log, processed, (v) => v === 'b')).toMatchObject({ neverProcessed: 0, neverProcessedUncleanRestart: 1 });
  });
});

describe('checkEos', () => {
  const inputs = [rec(0, 0, 'x'), rec(0, 1, 'y'), rec(0, 2, 'z')];
  const t = (v: string) => `eos(${v})`;
  it('counts missing, duplicated, unexpected and reported-but-not-visible outputs', () => {
    const committed = [rec(0, 0, 'eos(x)'), rec(0, 1, 'eos(x)'), rec(0, 2, 'eos(q)')];
    const uncommitted = [...committed, rec(0, 3, 'eos(y)')];
    const e = checkEos(inputs, committed, uncommitted, [[0, 0n, 1], [0, 1n, 1], [0, 7n, 1]], 2, t, () => undefined);
    // Both copies of eos(x) were reported committed: one input committed twice.
    expect(e).toMatchObject({ missing: 2, missingHidden: 1, duplicated: 1, unexpected: 1, reportedNotVisible: 1 });
    // Whether or not the extra copy was reported, and whatever a restart could explain of a reported one.
    expect(checkEos(inputs, committed, uncommitted, [[0, 0n, 1]], 1, t, () => undefined).duplicated).toBe(1);
    expect(checkEos(inputs, committed, uncommitted, [[0, 0n, 1], [0, 1n, 1]], 1, t, () => 'c').duplicated).toBe(1);
  });
  it('a value the producer stored twice is two inputs: two outputs of it are owed, a third is a duplicate', () => {
    const twice = [...inputs, rec(0, 3, 'x')];
    const committed = [rec(0, 0, 'eos(x)'), rec(0, 1, 'eos(x)'), rec(0, 2, 'eos(y)'), rec(0, 3, 'eos(z)')];
    expect(checkEos(twice, committed, committed, [[0, 0n, 1], [0, 1n, 1], [0, 2n, 1], [0, 3n, 1]], 4, t, () => undefined)).toMatchObject({ duplicated: 0, missing: 0 });
    const thrice = [...committed, rec(0, 4, 'eos(x)')];
    expect(checkEos(twice, thrice, thrice, [[0, 0n, 1], [0, 1n, 1], [0, 2n, 1], [0, 3n, 1], [0, 4n, 1]], 5, t, () => undefined).duplicated).toBe(1);
  });

  it('puts copies a restart explains in (b) or (c), never in the judged count', () => {
    const committed = [rec(0, 0, 'eos(x)'), rec(0, 1, 'eos(x)'), rec(0, 2, 'eos(y)'), rec(0, 3, 'eos(y)'), rec(0, 4, 'eos(z)')];
    const e = checkEos(inputs, committed, committed, [[0, 0n, 1], [0, 2n, 1], [0, 4n, 1]], 3, t, (_p, o) => (o === 1n ? 'c' : o === 3n ? 'b' : undefined));
    expect(e).toMatchObject({ duplicated: 0, duplicatedAbortedBeforeRestart: 1, duplicatedCutOffByRestart: 1, missing: 0 });
    const ambiguous = checkEos(inputs, committed, committed, [[0, 0n, 1], [0, 2n, 1], [0, 4n, 1]], 3, t, () => 'b?');
    expect(ambiguous).toMatchObject({ duplicated: 0, duplicatedCutOffByRestart: 2, duplicatedMaybeCutOff: 2 });
  });
});

describe('taintedBy', () => {
  it('covers the broker lifetime that ended unclean and the one after it, nothing else', () => {
    const restarts: RestartRecord[] = [
      { sigtermAt: 100, exitedAt: 110, readyAt: 120, clean: true, detail: '' },
      { sigtermAt: 200, exitedAt: 210, readyAt: 220, clean: false, detail: '' },
      { sigtermAt: 300, exitedAt: 310, readyAt: 320, clean: true, detail: '' },
    ];
    const tainted = taintedBy(restarts);
    expect([50, 119, 120, 250, 299, 300, 400].map(tainted)).toEqual([false, false, true, true, true, false, false]);
  });
});

describe('ProgressGaps', () => {
  it('measures the longest stretch without progress, minus broker downtime, until the cutoff', () => {
    const down = [{ from: 20, to: 30 }];
    const gaps = new ProgressGaps(down, 0, 100);
    gaps.track('p');
    gaps.track('stalled');
    gaps.mark('p', 10);
    gaps.mark('p', 40); // 30 long, 10 of it down
    gaps.mark('p', 95);
    gaps.mark('p', 130); // began before the cutoff: 35
    gaps.mark('p', 200); // began after it: not counted
    const result = gaps.finish(150);
    expect(result.get('p')).toEqual({ ms: 55, from: 40, to: 95 });
    expect(result.get('stalled')).toEqual({ ms: 140, from: 0, to: 150 });
  });
  it('does not count the idle time of a pipeline that finished its work before the end', () => {
    const gaps = new ProgressGaps([], 0, 100);
    gaps.mark('done', 10);
    gaps.mark('stuck', 10);
    const result = gaps.finish(150, (name) => name === 'done');
    expect(result.get('done')).toEqual({ ms: 10, from: 0, to: 10 });
    expect(result.get('stuck')).toEqual({ ms: 140, from: 10, to: 150 });
  });
});
