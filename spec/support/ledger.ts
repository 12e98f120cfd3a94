/**
 * The ledger of a consistency check (consistency.ts): every record a test wrote, with what the
 * client told it — an acknowledged offset, a failure, no answer — and, for transactions, the
 * outcome the client reported. Values carry their writer, sequence and topic, so a value read back
 * names the record it is.
 */
export type TransactionOutcome = 'committed' | 'aborted' | 'open' | 'unknown';

/** The cases of issue 20 §2 that may stay impossible on rivvend 0.0.22; each counted apart. */
export type Allowance = 'a' | 'b' | 'c' | 'd';
export const ALLOWANCES: Readonly<Record<Allowance, string>> = {
  a: "visible to read_committed between a transaction's first write and its commit",
  b: 'records of a transaction cut off by a broker restart',
  c: 'aborted records a broker restart made visible again',
  d: "lost or duplicated by rivvend's own crash recovery (SIGKILL, unclean SIGTERM)",
};

/**
 * What the client said about one record: the (partition, offset) it acknowledged, `'failed'` (it
 * reported an error), or `'unacknowledged'` (no answer: still pending, cut off, or — for a
 * transaction whose offsets only come at commit — never committed).
 */
export type Acknowledgement = { partition: number; offset: bigint } | 'failed' | 'unacknowledged';

export interface WrittenRecord {
  /** Who wrote it (a producer's name in the test): anomalies are broken down by writer. */
  writer: string;
  topic: string;
  /** Undefined for keyless records. A stored record must carry the same key. */
  key: Buffer | undefined;
  /** Unique in the ledger: a value identifies its record wherever it turns up in the log. */
  value: Buffer;
  ack: Acknowledgement;
  /** Set for records written inside a transaction. */
  transaction?: { id: string; outcome: TransactionOutcome };
  /** Anomalies of this record are expected on rivvend 0.0.22 for this reason: counted apart. */
  allowance?: Allowance;
}

/**
 * The test's record of what it wrote. `write` makes a record with a unique, self-describing value
 * (writer, sequence, topic as JSON, padded to `size` bytes so compressing producers really frame
 * it); the caller sets `ack` (and the transaction outcome) once the client answered.
 */
export class Ledger {
  readonly records: WrittenRecord[] = [];
  private readonly sequences = new Map<string, number>();

  write(fields: { writer: string; topic: string; key?: string | Buffer; size?: number; transactionId?: string }): WrittenRecord {
    const sequence = this.sequences.get(fields.writer) ?? 0;
    this.sequences.set(fields.writer, sequence + 1);
    const record: WrittenRecord = {
      writer: fields.writer,
      topic: fields.topic,
      key: fields.key === undefined ? undefined : Buffer.from(fields.key),
      value: makeValue(fields.writer, sequence, fields.topic, fields.size ?? 0),
      ack: 'unacknowledged',
    };
    if (fields.transactionId !== undefined) record.transaction = { id: fields.transactionId, outcome: 'open' };
    this.records.push(record);
    return record;
  }

  /** Every topic the ledger wrote to, in first-written order. */
  topics(): string[] {
    return [...new Set(this.records.map((r) => r.topic))];
  }
}

/**
 * A value that names its record: `{"w":writer,"n":sequence,"t":topic,"pad":…}`. The padding is
 * repetitive (compressible) but varies with the sequence, so no two values share a prefix
 * pattern that could hide a mix-up.
 */
export function makeValue(writer: string, sequence: number, topic: string, size: number): Buffer {
  const bare = JSON.stringify({ w: writer, n: sequence, t: topic, pad: '' });
  const padLength = Math.max(0, size - Buffer.byteLength(bare));
  const unit = `${sequence}.`;
  const pad = unit.repeat(Math.ceil(padLength / unit.length)).slice(0, padLength);
  return Buffer.from(JSON.stringify({ w: writer, n: sequence, t: topic, pad }));
}

/** `writer#sequence` for a value `makeValue` made, undefined for anything else. */
export function describeValue(value: Buffer): { writer: string; sequence: number; topic: string } | undefined {
  if (value[0] !== 0x7b /* { */) return undefined;
  try {
    const parsed = JSON.parse(value.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { w, n, t } = parsed as Record<string, unknown>;
    if (typeof w !== 'string' || typeof n !== 'number' || typeof t !== 'string') return undefined;
    return { writer: w, sequence: n, topic: t };
  } catch {
    return undefined;
  }
}
