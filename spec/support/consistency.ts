/**
 * The read-back consistency checker (Redpanda chaos `consistency` style): what the test wrote and
 * what the client told it (the ledger) is compared with the log read back twice, read_uncommitted
 * and read_committed. Every acknowledgement and every transaction outcome is checked against the
 * log; lies are counted, never assumed away.
 *
 * Three parts, so a chaos script can reuse each:
 * - ledger.ts: what was written and what the client said of it (`Ledger`, `makeValue`);
 * - log-reader.ts: `readLog` reads every partition of the ledger's topics back, both ways;
 * - here, `checkConsistency`, pure: ledger + log in, a `ConsistencyReport` out. `formatReport`
 *   prints it as a table, `assertConsistent` throws (with the table) unless every hard counter is 0.
 *
 * What rivvend 0.0.22 may make impossible to guarantee (issue 20 §2 (a)–(d)) is counted apart: the
 * caller labels the ledger entries (or partitions) concerned with an `Allowance`, and anomalies of
 * a labelled entry go to that label's column instead of the hard counters.
 */
import { ALLOWANCES, describeValue, type Allowance, type TransactionOutcome, type WrittenRecord } from './ledger.js';
import type { PartitionLog, ReadRecord } from './log-reader.js';
// ---- the check ----------------------------------------------------------------------------------

/** Each must be 0: a client (or broker) that breaks a promise makes one of them count. */
export const HARD_COUNTERS = {
  acknowledgedMissing: 'acknowledged, but nothing is stored at the acknowledged offset',
  acknowledgedAnotherRecord: 'acknowledged, but the offset holds another value (or another key)',
  offsetAcknowledgedTwice: 'acknowledgements naming an offset already acknowledged to another record',
  phantoms: 'records in the log the test never wrote (distinct offsets)',
  duplicates: 'extra stored copies of a written value (each copy after the first)',
  misplaced: 'written values stored in another topic than they were written to',
  committedHidden: 'records of committed transactions a read_committed reader does not get',
  plainHidden: 'stored non-transactional records a read_committed reader does not get',
  abortedVisible: 'records of aborted transactions a read_committed reader gets',
  openVisible: 'records of open transactions a read_committed reader gets',
  transactionsPartlyVisible: 'transactions of unknown outcome only partly visible to read_committed',
  offsetsBackwards: 'records a reader got at an offset not above the highest it had already got',
  readersDisagree: 'read_committed records the read_uncommitted log does not hold as they are',
} as const;
export type HardCounter = keyof typeof HARD_COUNTERS;
export const HARD_COUNTER_NAMES = Object.keys(HARD_COUNTERS) as HardCounter[];

export type Counters = Record<HardCounter, number>;

/** Figures that are not verdicts: what was written and read, for reading the counters against. */
export interface ConsistencyFigures {
  partitions: number;
  written: number;
  acknowledged: number;
  failed: number;
  unacknowledged: number;
  /** Failed or unacknowledged records found stored anyway (allowed: a reply can be lost). */
  unacknowledgedStored: number;
  transactions: Record<TransactionOutcome, number>;
  readUncommitted: number;
  readCommitted: number;
  /** Records stored framed (compressed) whose value the client decoded. */
  storedFramed: number;
}

export interface WriterFigures {
  written: number;
  acknowledged: number;
  stored: number;
  visibleCommitted: number;
  storedFramed: number;
  counters: Counters;
}

export interface ConsistencyReport {
  hard: Counters;
  allowed: Record<Allowance, Counters>;
  figures: ConsistencyFigures;
  /** Per writer; `(unknown)` for phantoms no writer's format explains. */
  writers: Record<string, WriterFigures>;
  /** The first few cases of each counter, to start the diagnosis from. */
  examples: Partial<Record<HardCounter, string[]>>;
}

export interface CheckOptions {
  /** Anomalies not tied to a written record (phantoms, offsets backwards, …) on this partition are expected. */
  partitionAllowance?: (topic: string, partition: number) => Allowance | undefined;
  /** Examples kept per counter. Default 5. */
  examples?: number;
}

const UNKNOWN_WRITER = '(unknown)';

const zeroCounters = (): Counters => Object.fromEntries(HARD_COUNTER_NAMES.map((name) => [name, 0])) as Counters;

/** The ledger against the log: pure, no I/O. Throws if the ledger's values are not unique. */
export function checkConsistency(ledger: readonly WrittenRecord[], logs: readonly PartitionLog[], options: CheckOptions = {}): ConsistencyReport {
  const maxExamples = options.examples ?? 5;
  const report: ConsistencyReport = {
    hard: zeroCounters(),
    allowed: { a: zeroCounters(), b: zeroCounters(), c: zeroCounters(), d: zeroCounters() },
    figures: {
      partitions: logs.length,
      written: ledger.length,
      acknowledged: 0,
      failed: 0,
      unacknowledged: 0,
      unacknowledgedStored: 0,
      transactions: { committed: 0, aborted: 0, open: 0, unknown: 0 },
      readUncommitted: 0,
      readCommitted: 0,
      storedFramed: 0,
    },
    writers: {},
    examples: {},
  };
  const writerFigures = (writer: string): WriterFigures =>
    (report.writers[writer] ??= { written: 0, acknowledged: 0, stored: 0, visibleCommitted: 0, storedFramed: 0, counters: zeroCounters() });
  const count = (counter: HardCounter, writer: string, allowance: Allowance | undefined, example: () => string) => {
    if (allowance !== undefined) {
      report.allowed[allowance][counter]++;
      return;
    }
    report.hard[counter]++;
    writerFigures(writer).counters[counter]++;
    const examples = (report.examples[counter] ??= []);
    if (examples.length < maxExamples) examples.push(example());
  };

  // Index the ledger by value: a value is its record's identity wherever it turns up.
  const byValue = new Map<string, WrittenRecord>();
  for (const record of ledger) {
    const id = valueId(record.value);
    if (byValue.has(id)) throw new Error(`the ledger holds the value ${show(record.value)} twice: values must be unique`);
    byValue.set(id, record);
    const figures = writerFigures(record.writer);
    figures.written++;
    if (record.ack === 'failed') report.figures.failed++;
    else if (record.ack === 'unacknowledged') report.figures.unacknowledged++;
    else {
      report.figures.acknowledged++;
      figures.acknowledged++;
    }
  }
  const transactions = new Map<string, { outcome: TransactionOutcome; records: WrittenRecord[] }>();
  for (const record of ledger) {
    if (record.transaction === undefined) continue;
    const txn = transactions.get(record.transaction.id) ?? { outcome: record.transaction.outcome, records: [] };
    txn.records.push(record);
    transactions.set(record.transaction.id, txn);
  }
  for (const txn of transactions.values()) report.figures.transactions[txn.outcome]++;

  // Where each written value was found, per reader; positions are `topic/partition@offset`.
  const storedAt = new Map<WrittenRecord, Set<string>>();
  const visibleAt = new Map<WrittenRecord, Set<string>>();
  const note = (map: Map<WrittenRecord, Set<string>>, record: WrittenRecord, position: string) => {
    const set = map.get(record) ?? new Set<string>();
    set.add(position);
    map.set(record, set);
  };
  /** What read_uncommitted holds at each position (the first record it got there). */
  const logAt = new Map<string, ReadRecord>();

  for (const log of logs) {
    const where = (offset: bigint) => position(log.topic, log.partition, offset);
    const partitionAllowance = options.partitionAllowance?.(log.topic, log.partition);
    report.figures.readUncommitted += log.uncommitted.length;
    report.figures.readCommitted += log.committed.length;

    for (const [reader, records] of [['read_uncommitted', log.uncommitted], ['read_committed', log.committed]] as const) {
      // Against the highest offset the reader already got: 0,1,2,0,1 is two records served again.
      let highest: bigint | undefined;
      for (const r of records) {
        if (highest !== undefined && r.offset <= highest) {
          const written = byValue.get(valueId(r.value));
          const seen = highest;
          count('offsetsBackwards', written?.writer ?? UNKNOWN_WRITER, partitionAllowance ?? written?.allowance, () => `${reader} got ${where(r.offset)} after @${seen}`);
        } else {
          highest = r.offset;
        }
      }
    }

    const phantomPositions = new Set<string>();
    const phantom = (r: ReadRecord, reader: string) => {
      const key = `${where(r.offset)}:${valueId(r.value)}`;
      if (phantomPositions.has(key)) return;
      phantomPositions.add(key);
      count('phantoms', describeValue(r.value)?.writer ?? UNKNOWN_WRITER, partitionAllowance, () => `${where(r.offset)} (${reader}) holds ${show(r.value)}`);
    };

    for (const r of log.uncommitted) {
      const at = where(r.offset);
      if (!logAt.has(at)) logAt.set(at, r);
      const written = byValue.get(valueId(r.value));
      if (written === undefined) {
        phantom(r, 'read_uncommitted');
        continue;
      }
      note(storedAt, written, at);
    }
    for (const r of log.committed) {
      const at = where(r.offset);
      const inLog = logAt.get(at);
      const written = byValue.get(valueId(r.value));
      if (inLog === undefined || !inLog.value.equals(r.value) || !sameKey(inLog.key, r.key)) {
        count('readersDisagree', written?.writer ?? UNKNOWN_WRITER, partitionAllowance ?? written?.allowance, () =>
          `read_committed got ${show(r.value)} at ${at}; read_uncommitted ${inLog === undefined ? 'nothing' : show(inLog.value)}`,
        );
      }
      if (written === undefined) {
        phantom(r, 'read_committed');
        continue;
      }
      note(visibleAt, written, at);
    }
    if (log.stored !== undefined) {
      const storedBytes = new Map<bigint, Buffer>();
      for (const r of log.stored) if (!storedBytes.has(r.offset)) storedBytes.set(r.offset, r.value);
      for (const r of log.uncommitted) {
        const raw = storedBytes.get(r.offset);
        if (raw === undefined || raw.equals(r.value)) continue;
        report.figures.storedFramed++;
        const written = byValue.get(valueId(r.value));
        if (written !== undefined) writerFigures(written.writer).storedFramed++;
      }
    }
  }

  // Acknowledgements: each names a position that must hold exactly that record, and no other's.
  const acknowledgedTo = new Map<string, WrittenRecord[]>();
  for (const record of ledger) {
    if (typeof record.ack !== 'object') continue;
    const at = position(record.topic, record.ack.partition, record.ack.offset);
    const mine = nameOf(record);
    const sharing = acknowledgedTo.get(at) ?? [];
    sharing.push(record);
    acknowledgedTo.set(at, sharing);
    const inLog = logAt.get(at);
    const actually = [...(storedAt.get(record) ?? [])];
    const really = actually.length > 0 ? `; it is stored at ${actually.join(', ')}` : '; it is stored nowhere';
    if (inLog === undefined) {
      count('acknowledgedMissing', record.writer, record.allowance, () => `${mine} acknowledged at ${at}: nothing there${really}`);
    } else if (!inLog.value.equals(record.value) || !sameKey(inLog.key, record.key)) {
      const what = inLog.value.equals(record.value) ? `its value with key ${showKey(inLog.key)} instead of ${showKey(record.key)}` : show(inLog.value);
      count('acknowledgedAnotherRecord', record.writer, record.allowance, () => `${mine} acknowledged at ${at}, which holds ${what}${inLog.value.equals(record.value) ? '' : really}`);
    }
  }
  for (const [at, sharing] of acknowledgedTo) {
    if (sharing.length < 2) continue;
    // The record the position really holds (if any) owns it; every other acknowledgement is the lie.
    const holder = logAt.get(at);
    const owner = sharing.find((r) => holder !== undefined && r.value.equals(holder.value)) ?? sharing[0]!;
    for (const record of sharing) {
      if (record === owner) continue;
      count('offsetAcknowledgedTwice', record.writer, record.allowance, () => `${at} acknowledged to ${nameOf(record)}, and to ${nameOf(owner)}${owner.value.equals(holder?.value ?? Buffer.alloc(0)) ? ' which it holds' : ''}`);
    }
  }

  // Each written value: stored once, in its topic, and visible to read_committed as its outcome says.
  for (const record of ledger) {
    const stored = [...(storedAt.get(record) ?? [])];
    const visible = visibleAt.get(record)?.size ?? 0;
    const mine = nameOf(record);
    const figures = writerFigures(record.writer);
    if (stored.length > 0) figures.stored++;
    if (visible > 0) figures.visibleCommitted++;
    if (stored.length > 0 && typeof record.ack !== 'object') report.figures.unacknowledgedStored++;
    for (let copy = 1; copy < stored.length; copy++) {
      count('duplicates', record.writer, record.allowance, () => `${mine} stored ${stored.length} times: ${stored.join(', ')}`);
    }
    for (const at of stored) {
      if (topicOf(at) !== record.topic) {
        count('misplaced', record.writer, record.allowance, () => `${mine} written to ${record.topic}, stored at ${at}`);
      }
    }
    const outcome = record.transaction?.outcome;
    if (outcome === undefined) {
      if (stored.length > 0 && visible === 0) count('plainHidden', record.writer, record.allowance, () => `${mine} stored at ${stored.join(', ')}, not visible read_committed`);
    } else if (outcome === 'committed') {
      if (visible === 0) {
        count('committedHidden', record.writer, record.allowance, () =>
          `${mine} (transaction ${record.transaction!.id}) ${stored.length > 0 ? `stored at ${stored.join(', ')}` : 'not stored'}, not visible read_committed`,
        );
      }
    } else if (outcome === 'aborted') {
      if (visible > 0) count('abortedVisible', record.writer, record.allowance, () => `${mine} (aborted transaction ${record.transaction!.id}) visible read_committed`);
    } else if (outcome === 'open') {
      if (visible > 0) count('openVisible', record.writer, record.allowance, () => `${mine} (open transaction ${record.transaction!.id}) visible read_committed`);
    }
  }

  // A transaction of unknown outcome is fine either way, but only as a whole.
  for (const [id, txn] of transactions) {
    if (txn.outcome !== 'unknown') continue;
    const visible = txn.records.filter((r) => (visibleAt.get(r)?.size ?? 0) > 0).length;
    if (visible > 0 && visible < txn.records.length) {
      const first = txn.records[0]!;
      const allowance = txn.records.find((r) => r.allowance !== undefined)?.allowance;
      count('transactionsPartlyVisible', first.writer, allowance, () => `transaction ${id}: ${visible} of ${txn.records.length} records visible read_committed`);
    }
  }
  return report;
}

/** The hard counters that are not 0 (an empty object when the log kept every promise). */
export function nonZeroHardCounters(report: Pick<ConsistencyReport, 'hard'>): Partial<Counters> {
  return Object.fromEntries(Object.entries(report.hard).filter(([, n]) => n > 0)) as Partial<Counters>;
}

/** Throws an error carrying the printed report unless every hard counter is 0. */
export function assertConsistent(report: ConsistencyReport, title = 'consistency'): void {
  const failing = nonZeroHardCounters(report);
  if (Object.keys(failing).length > 0) {
    throw new Error(`${title}: ${Object.entries(failing).map(([name, n]) => `${name}=${n}`).join(', ')}\n${formatReport(report, title)}`);
  }
}

/** The report as a table: figures, every counter (hard and per allowance), writers, examples. */
export function formatReport(report: ConsistencyReport, title = 'consistency'): string {
  const f = report.figures;
  const lines: string[] = [];
  const txns = Object.entries(f.transactions).filter(([, n]) => n > 0).map(([outcome, n]) => `${n} ${outcome}`).join(', ') || 'none';
  lines.push(
    `${title}: ${f.partitions} partitions; ${f.written} written (${f.acknowledged} acknowledged, ${f.failed} failed, ${f.unacknowledged} unacknowledged, ` +
      `${f.unacknowledgedStored} of those stored); transactions: ${txns}`,
  );
  lines.push(`read back: ${f.readUncommitted} read_uncommitted, ${f.readCommitted} read_committed, ${f.storedFramed} stored framed (decoded by the client)`);
  const allowanceNames = Object.keys(ALLOWANCES) as Allowance[];
  const nameWidth = Math.max(...HARD_COUNTER_NAMES.map((n) => n.length));
  lines.push(`${'counter'.padEnd(nameWidth)}  ${'hard'.padStart(5)} ${allowanceNames.map((a) => `(${a})`.padStart(5)).join(' ')}  meaning`);
  for (const name of HARD_COUNTER_NAMES) {
    const allowed = allowanceNames.map((a) => String(report.allowed[a][name]).padStart(5)).join(' ');
    const flag = report.hard[name] > 0 ? ' <-' : '';
    lines.push(`${name.padEnd(nameWidth)}  ${String(report.hard[name]).padStart(5)} ${allowed}  ${HARD_COUNTERS[name]}${flag}`);
  }
  const usedAllowances = allowanceNames.filter((a) => HARD_COUNTER_NAMES.some((n) => report.allowed[a][n] > 0));
  for (const a of usedAllowances) lines.push(`(${a}) = ${ALLOWANCES[a]} (rivvend 0.0.22)`);

  const writers = Object.entries(report.writers);
  if (writers.length > 0) {
    const failing = HARD_COUNTER_NAMES.filter((n) => report.hard[n] > 0);
    const writerWidth = Math.max(6, ...writers.map(([w]) => w.length));
    const columns = ['written', 'acked', 'stored', 'visible', 'framed', ...failing];
    lines.push('');
    lines.push(`${'writer'.padEnd(writerWidth)}  ${columns.map((c) => c.padStart(Math.max(7, c.length))).join(' ')}`);
    for (const [writer, w] of writers) {
      const values = [w.written, w.acknowledged, w.stored, w.visibleCommitted, w.storedFramed, ...failing.map((n) => w.counters[n])];
      lines.push(`${writer.padEnd(writerWidth)}  ${values.map((v, i) => String(v).padStart(Math.max(7, columns[i]!.length))).join(' ')}`);
    }
  }
  const examples = Object.entries(report.examples);
  if (examples.length > 0) {
    lines.push('');
    lines.push('examples:');
    for (const [name, list] of examples) for (const example of list) lines.push(`  ${name}: ${example}`);
  }
  return lines.join('\n');
}

// ---- helpers --------------------------------------------------------------------------------------

/** A map key for a value's exact bytes. */
function valueId(value: Buffer): string {
  return value.toString('latin1');
}

function position(topic: string, partition: number, offset: bigint): string {
  return `${topic}/${partition}@${offset}`;
}

function topicOf(at: string): string {
  return at.slice(0, at.lastIndexOf('/'));
}

function sameKey(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

function show(value: Buffer): string {
  const described = describeValue(value);
  if (described !== undefined) return `${described.writer}#${described.sequence}${described.topic ? ` (for ${described.topic})` : ''}`;
  const hex = value.subarray(0, 16).toString('hex');
  return `${value.length} bytes 0x${hex}${value.length > 16 ? '…' : ''}`;
}

function nameOf(record: WrittenRecord): string {
  return `${record.writer}#${describeValue(record.value)?.sequence ?? '?'}`;
}

function showKey(key: Buffer | undefined): string {
  return key === undefined ? 'none' : `'${key.toString('utf8')}'`;
}
