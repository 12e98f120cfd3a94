/**
 * The consistency checker itself (spec/support/consistency.ts), on fabricated ledgers and logs:
 * a clean log counts nothing, and each way of breaking a promise makes its own counter count —
 * so a suite that reports 0 has been shown able to report more.
 */
import { HARD_COUNTER_NAMES, assertConsistent, checkConsistency, formatReport, nonZeroHardCounters, type Counters } from '../support/consistency';
import { Ledger, describeValue, makeValue, type WrittenRecord } from '../support/ledger';
import { readLog, type LogReader, type PartitionLog, type ReadRecord } from '../support/log-reader';

const at = (offset: number, record: WrittenRecord | Buffer, key?: Buffer): ReadRecord =>
  Buffer.isBuffer(record) ? { offset: BigInt(offset), key, value: record } : { offset: BigInt(offset), key: key ?? record.key, value: record.value };

/** A partition whose two readers see the same records unless `committed` says otherwise. */
function partition(topic: string, index: number, uncommitted: ReadRecord[], committed: ReadRecord[] = uncommitted): PartitionLog {
  const end = uncommitted.reduce((max, r) => (r.offset + 1n > max ? r.offset + 1n : max), 0n);
  return { topic, partition: index, logEnd: end, uncommitted, committed };
}

/** Write `n` records for `writer` to `topic`, acknowledged at offsets 0..n-1 of `partitionIndex`. */
function acknowledged(ledger: Ledger, writer: string, topic: string, n: number, partitionIndex = 0): WrittenRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const record = ledger.write({ writer, topic });
    record.ack = { partition: partitionIndex, offset: BigInt(i) };
    return record;
  });
}

/** Only the named counters may be non-zero, with these values. */
function expectOnly(hard: Counters, expected: Partial<Counters>): void {
  expect(nonZeroHardCounters({ hard })).toEqual(expected);
}

describe('consistency checker', () => {
  it('counts nothing on a log that kept every promise (plain, keyed, committed, aborted, unknown-but-whole transactions)', () => {
    const ledger = new Ledger();
    const plain = acknowledged(ledger, 'plain', 't', 2);
    const keyed = ledger.write({ writer: 'keyed', topic: 't', key: 'k1' });
    keyed.ack = { partition: 0, offset: 2n };
    const committed = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x1' });
    committed.transaction!.outcome = 'committed';
    committed.ack = { partition: 0, offset: 3n };
    const aborted = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x2' });
    aborted.transaction!.outcome = 'aborted';
    const unknownA = ledger.write({ writer: 'txn', topic: 'u', transactionId: 'x3' });
    const unknownB = ledger.write({ writer: 'txn', topic: 'u', transactionId: 'x3' });
    unknownA.transaction!.outcome = unknownB.transaction!.outcome = 'unknown';
    const failedNotStored = ledger.write({ writer: 'plain', topic: 't' });
    failedNotStored.ack = 'failed';

    const all = [at(0, plain[0]!), at(1, plain[1]!), at(2, keyed), at(3, committed), at(5, aborted)];
    const report = checkConsistency(ledger.records, [
      // Offset 4 is a transaction marker: neither reader gets it.
      partition('t', 0, all, all.filter((r) => r.offset !== 5n)),
      partition('u', 0, [at(0, unknownA), at(1, unknownB)]),
    ]);

    expectOnly(report.hard, {});
    expect(() => assertConsistent(report)).not.toThrow();
    expect(report.figures).toMatchObject({ written: 8, acknowledged: 4, failed: 1, unacknowledged: 3, readUncommitted: 7, readCommitted: 6 });
    expect(report.figures.transactions).toEqual({ committed: 1, aborted: 1, open: 0, unknown: 1 });
    expect(report.writers['txn']).toMatchObject({ written: 4, stored: 4, visibleCommitted: 3 });
  });

  it('acknowledgedMissing: an acknowledged offset that holds nothing (and where the record really went)', () => {
    const ledger = new Ledger();
    const [a, b] = acknowledged(ledger, 'p', 't', 2);
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, a!), at(7, b!)])]);
    expectOnly(report.hard, { acknowledgedMissing: 1 });
    expect(report.examples.acknowledgedMissing![0]).toMatch(/p#1 acknowledged at t\/0@1: nothing there; it is stored at t\/0@7/);
  });

  it('acknowledgedAnotherRecord, offsetAcknowledgedTwice: a record acknowledged with another record\'s offsets (B answered as a duplicate of A, B stored nowhere)', () => {
    const ledger = new Ledger();
    const a = ledger.write({ writer: 'idem', topic: 'A' });
    const b = ledger.write({ writer: 'idem', topic: 'B' });
    a.ack = { partition: 0, offset: 0n };
    // The broker answered B's batch as a duplicate of A's: B's ack names a position in B that
    // holds nothing; a second fabricated case in one topic names A's own record.
    b.ack = { partition: 0, offset: 0n };
    const c = ledger.write({ writer: 'idem', topic: 'A' });
    c.ack = { partition: 0, offset: 0n };
    const report = checkConsistency(ledger.records, [partition('A', 0, [at(0, a)]), partition('B', 0, [])]);
    expectOnly(report.hard, { acknowledgedMissing: 1, acknowledgedAnotherRecord: 1, offsetAcknowledgedTwice: 1 });
    expect(report.examples.acknowledgedAnotherRecord![0]).toMatch(/idem#2 acknowledged at A\/0@0, which holds idem#0/);
    expect(report.writers['idem']!.counters).toMatchObject({ acknowledgedMissing: 1, acknowledgedAnotherRecord: 1, offsetAcknowledgedTwice: 1 });
  });

  it('offsetAcknowledgedTwice is charged to the acknowledgement the log contradicts, not to the earlier one (concurrent batches interleaved)', () => {
    const ledger = new Ledger();
    const first = ledger.write({ writer: 'one', topic: 't' });
    const second = ledger.write({ writer: 'two', topic: 't' });
    // Both told offset 0; the log holds `second` there and `first` at 1.
    first.ack = { partition: 0, offset: 0n };
    second.ack = { partition: 0, offset: 0n };
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, second), at(1, first)])]);
    expectOnly(report.hard, { acknowledgedAnotherRecord: 1, offsetAcknowledgedTwice: 1 });
    expect(report.writers['one']!.counters).toMatchObject({ acknowledgedAnotherRecord: 1, offsetAcknowledgedTwice: 1 });
    expect(report.writers['two']!.counters.offsetAcknowledgedTwice).toBe(0);
    expect(report.examples.acknowledgedAnotherRecord![0]).toMatch(/one#0 acknowledged at t\/0@0, which holds two#0 .*; it is stored at t\/0@1/);
    expect(report.examples.offsetAcknowledgedTwice![0]).toBe('t/0@0 acknowledged to one#0, and to two#0 which it holds');
  });

  it('acknowledgedAnotherRecord: the right value under another key', () => {
    const ledger = new Ledger();
    const keyed = ledger.write({ writer: 'k', topic: 't', key: 'right' });
    keyed.ack = { partition: 0, offset: 0n };
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, keyed, Buffer.from('wrong'))])]);
    expectOnly(report.hard, { acknowledgedAnotherRecord: 1 });
    expect(report.examples.acknowledgedAnotherRecord![0]).toMatch(/key 'wrong' instead of 'right'/);
  });

  it('phantoms: records nobody wrote, by distinct position, attributed to the writer their value names', () => {
    const ledger = new Ledger();
    const [a] = acknowledged(ledger, 'p', 't', 1);
    const foreign = Buffer.from([0x00, 0x01, 0xff]);
    const unwritten = makeValue('p', 99, 't', 0);
    const report = checkConsistency(ledger.records, [
      // The foreign value is seen by both readers at one position: one phantom, not two.
      partition('t', 0, [at(0, a!), at(1, foreign), at(2, unwritten)], [at(0, a!), at(1, foreign)]),
    ]);
    expectOnly(report.hard, { phantoms: 2 });
    expect(report.writers['(unknown)']!.counters.phantoms).toBe(1);
    expect(report.writers['p']!.counters.phantoms).toBe(1);
  });

  it('phantoms: a compressed value the client failed to decode is not the value written', () => {
    const ledger = new Ledger();
    acknowledged(ledger, 'lz4', 't', 1);
    const framed = Buffer.concat([Buffer.from([0x11, 0x40, 0, 0, 0]), Buffer.from('garbled')]);
    const report = checkConsistency(ledger.records, [partition('t', 0, [{ offset: 0n, key: undefined, value: framed }])]);
    expectOnly(report.hard, { phantoms: 1, acknowledgedAnotherRecord: 1 });
  });

  it('duplicates and misplaced: one value stored twice in its topic and once in another', () => {
    const ledger = new Ledger();
    const [a] = acknowledged(ledger, 'p', 't', 1);
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, a!)]), partition('t', 1, [at(0, a!)]), partition('other', 0, [at(0, a!)])]);
    expectOnly(report.hard, { duplicates: 2, misplaced: 1 });
    expect(report.examples.misplaced![0]).toMatch(/written to t, stored at other\/0@0/);
  });

  it('committedHidden: committed records a read_committed reader misses, stored or not', () => {
    const ledger = new Ledger();
    const stored = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x' });
    const lost = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x' });
    stored.transaction!.outcome = lost.transaction!.outcome = 'committed';
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, stored)], [])]);
    expectOnly(report.hard, { committedHidden: 2 });
    expect(report.examples.committedHidden).toEqual([expect.stringMatching(/stored at t\/0@0, not visible/), expect.stringMatching(/not stored, not visible/)]);
  });

  it('plainHidden: a stored non-transactional record a read_committed reader misses', () => {
    const ledger = new Ledger();
    const [a, b] = acknowledged(ledger, 'p', 't', 2);
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, a!), at(1, b!)], [at(0, a!)])]);
    expectOnly(report.hard, { plainHidden: 1 });
  });

  it('abortedVisible and openVisible: read_committed gets records of aborted and of open transactions', () => {
    const ledger = new Ledger();
    const aborted = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x1' });
    aborted.transaction!.outcome = 'aborted';
    const open = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x2' });
    expect(open.transaction!.outcome).toBe('open');
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, aborted), at(1, open)])]);
    expectOnly(report.hard, { abortedVisible: 1, openVisible: 1 });
  });

  it('transactionsPartlyVisible: a transaction of unknown outcome counts only if it is seen in part', () => {
    const ledger = new Ledger();
    const whole = [ledger.write({ writer: 'txn', topic: 't', transactionId: 'whole' }), ledger.write({ writer: 'txn', topic: 't', transactionId: 'whole' })];
    const part = [ledger.write({ writer: 'txn', topic: 't', transactionId: 'part' }), ledger.write({ writer: 'txn', topic: 't', transactionId: 'part' })];
    for (const r of [...whole, ...part]) r.transaction!.outcome = 'unknown';
    const report = checkConsistency(ledger.records, [
      partition('t', 0, [at(0, whole[0]!), at(1, whole[1]!), at(2, part[0]!), at(3, part[1]!)], [at(2, part[0]!)]),
    ]);
    expectOnly(report.hard, { transactionsPartlyVisible: 1 });
    expect(report.examples.transactionsPartlyVisible![0]).toMatch(/transaction part: 1 of 2/);
  });

  it('offsetsBackwards: a reader that gets an offset again, or a lower one (rivvend crash replay)', () => {
    const ledger = new Ledger();
    const [a, b, c] = acknowledged(ledger, 'p', 't', 3);
    const report = checkConsistency(ledger.records, [
      partition('t', 0, [at(0, a!), at(1, b!), at(2, c!), at(0, a!), at(1, b!)], [at(0, a!), at(2, c!), at(1, b!)]),
    ]);
    expectOnly(report.hard, { offsetsBackwards: 3 });
    expect(report.examples.offsetsBackwards).toContain('read_committed got t/0@1 after @2');
  });

  it('readersDisagree: read_committed gets a record the read_uncommitted log does not hold there', () => {
    const ledger = new Ledger();
    const [a, b] = acknowledged(ledger, 'p', 't', 2);
    // read_committed got b a second time, at an offset read_uncommitted found empty.
    const report = checkConsistency(ledger.records, [partition('t', 0, [at(0, a!), at(1, b!)], [at(0, a!), at(1, b!), at(5, b!)])]);
    expectOnly(report.hard, { readersDisagree: 1 });
  });

  it('allowances: anomalies of labelled records and partitions are counted apart, not as hard failures', () => {
    const ledger = new Ledger();
    const open = ledger.write({ writer: 'txn', topic: 't', transactionId: 'x' });
    open.allowance = 'a';
    const replayed = acknowledged(ledger, 'p', 'crashed', 1);
    const report = checkConsistency(
      ledger.records,
      [partition('t', 0, [at(0, open)]), partition('crashed', 0, [at(0, replayed[0]!), at(0, replayed[0]!), at(1, Buffer.from('?'))])],
      { partitionAllowance: (topic) => (topic === 'crashed' ? 'd' : undefined) },
    );
    expectOnly(report.hard, {});
    expect(report.allowed.a.openVisible).toBe(1);
    expect(report.allowed.d).toMatchObject({ offsetsBackwards: 2, phantoms: 1 });
    expect(formatReport(report)).toMatch(/\(a\) = visible to read_committed between/);
  });

  it('every hard counter is named in the printed table; assertConsistent throws with the table', () => {
    const ledger = new Ledger();
    const [a] = acknowledged(ledger, 'p', 't', 1);
    const report = checkConsistency(ledger.records, [partition('t', 0, [])]);
    const table = formatReport(report, 'unit');
    for (const name of HARD_COUNTER_NAMES) expect(table).toContain(name);
    expect(table).toMatch(/acknowledgedMissing\s+1\s+0\s+0\s+0\s+0 .*<-/);
    expect(() => assertConsistent(report, 'unit')).toThrow(/unit: acknowledgedMissing=1\n[\s\S]*p#0 acknowledged at t\/0@0/);
    expect(a).toBeDefined();
  });

  it('refuses a ledger whose values are not unique (it could not tell records apart)', () => {
    const ledger = new Ledger();
    const [a] = acknowledged(ledger, 'p', 't', 1);
    expect(() => checkConsistency([a!, { ...a! }], [])).toThrow(/twice/);
  });

  it('values name their writer, sequence and topic, and reach the requested size', () => {
    const value = makeValue('idempotent-lz4', 42, 'topic-a', 200);
    expect(value.length).toBe(200);
    expect(describeValue(value)).toEqual({ writer: 'idempotent-lz4', sequence: 42, topic: 'topic-a' });
    expect(describeValue(Buffer.from('{not json'))).toBeUndefined();
    expect(describeValue(Buffer.from([0x00]))).toBeUndefined();
  });
});

describe('readLog', () => {
  /** A fake broker log: raw entries by offset (markers included); read_committed hides `hidden`. */
  function fakeReader(entries: { offset: number; value: string; marker?: boolean; hidden?: boolean; framed?: boolean }[], pageSize: number): LogReader & { fetches: string[] } {
    const fetches: string[] = [];
    return {
      fetches,
      partitionCount: async () => 1,
      logEnd: async () => BigInt(Math.max(...entries.map((e) => e.offset)) + 1),
      fetch: async (_topic, _partition, offset, isolation, decoded) => {
        fetches.push(`${isolation}@${offset}${decoded ? '' : ' raw'}`);
        // As rivvend: read a page of raw entries, then filter it.
        const page = entries.filter((e) => BigInt(e.offset) >= offset).slice(0, pageSize);
        return page
          .filter((e) => !e.marker && !(isolation === 'read_committed' && e.hidden))
          .map((e) => ({ offset: BigInt(e.offset), key: undefined, value: Buffer.from(!decoded && e.framed ? `framed:${e.value}` : e.value) }));
      },
    };
  }

  it('steps past windows a reader cannot see (markers; aborted pages under read_committed) without skipping a record', async () => {
    const entries = [
      { offset: 0, value: 'a' },
      { offset: 1, value: 'x1', hidden: true },
      { offset: 2, value: 'x2', hidden: true },
      { offset: 3, value: 'x3', hidden: true },
      { offset: 4, value: 'm', marker: true },
      { offset: 5, value: 'm', marker: true },
      { offset: 6, value: 'b', framed: true },
      { offset: 7, value: 'm', marker: true },
    ];
    const reader = fakeReader(entries, 2);
    const [log] = await readLog(reader, ['t']);
    expect(log!.logEnd).toBe(8n);
    expect(log!.uncommitted.map((r) => [r.offset, r.value.toString()])).toEqual([[0n, 'a'], [1n, 'x1'], [2n, 'x2'], [3n, 'x3'], [6n, 'b']]);
    expect(log!.committed.map((r) => [r.offset, r.value.toString()])).toEqual([[0n, 'a'], [6n, 'b']]);
    expect(log!.stored!.find((r) => r.offset === 6n)!.value.toString()).toBe('framed:b');
    // read_committed's empty pages (1, 2, 3) step to the next record read_uncommitted saw, not past
    // the page (a committed record could have been there), and past the markers at 4 and 5 at once.
    expect(reader.fetches.filter((f) => f.startsWith('read_committed'))).toEqual(['read_committed@0', 'read_committed@1', 'read_committed@2', 'read_committed@3', 'read_committed@6', 'read_committed@7']);
  });

  it('keeps what a reader got as it got it: offsets going backwards are kept for the check, and the pass still ends', async () => {
    const reader: LogReader = {
      partitionCount: async () => 1,
      logEnd: async () => 3n,
      // A broker replaying its log: every page starts again at 0.
      fetch: async (_t, _p, offset) => (offset === 0n ? [0n, 1n, 2n, 0n, 1n] : []).map((o) => ({ offset: o, key: undefined, value: Buffer.from(`v${o}`) })),
    };
    const [log] = await readLog(reader, ['t'], { stored: false });
    expect(log!.uncommitted.map((r) => r.offset)).toEqual([0n, 1n, 2n, 0n, 1n]);
    expect(log!.stored).toBeUndefined();
  });

  it('counts values the client decoded from a framed (compressed) form, per writer', () => {
    const ledger = new Ledger();
    const record = ledger.write({ writer: 'zstd', topic: 't' });
    record.ack = { partition: 0, offset: 0n };
    const log: PartitionLog = { ...partition('t', 0, [at(0, record)]), stored: [{ offset: 0n, key: undefined, value: Buffer.from('compressed bytes') }] };
    const report = checkConsistency(ledger.records, [log]);
    expect(report.figures.storedFramed).toBe(1);
    expect(report.writers['zstd']!.storedFramed).toBe(1);
  });
});
