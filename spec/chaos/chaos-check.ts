/**
 * The chaos run's own read-back judgements, as pure functions over what the run recorded: what the
 * group processed, what the exactly-once stage reported committed, and the broker's restarts,
 * against the logs read back. (The producer's acknowledgements are checked by the shared
 * consistency checker, spec/support/consistency.ts.) Nothing here trusts a reply: every figure is
 * a comparison with the log.
 */

export interface LogRecord {
  partition: number;
  offset: bigint;
  value: string;
}

export interface RestartRecord {
  /** SIGTERM sent. */
  sigtermAt: number;
  /** Process gone. */
  exitedAt: number;
  /** New process READY. */
  readyAt: number;
  /** rivvend drained and checkpointed its WAL: nothing is replayed at the next start. */
  clean: boolean;
  detail: string;
}

const key = (partition: number, offset: bigint): string => `${partition}@${offset}`;

function countValues(records: readonly LogRecord[]): Map<string, LogRecord[]> {
  const by = new Map<string, LogRecord[]>();
  for (const r of records) {
    const list = by.get(r.value);
    if (list === undefined) by.set(r.value, [r]);
    else list.push(r);
  }
  return by;
}

/**
 * Whether a time falls where rivvend's own crash recovery may have lost or repeated records: in a
 * broker lifetime that ended with an unclean stop (its WAL was not checkpointed, DESIGN §8) or the
 * lifetime right after it (where the replay lands).
 */
export function taintedBy(restarts: readonly RestartRecord[]): (at: number) => boolean {
  const windows: Array<[number, number]> = [];
  restarts.forEach((r, i) => {
    if (r.clean) return;
    const from = i === 0 ? 0 : restarts[i - 1]!.readyAt;
    const to = i + 1 < restarts.length ? restarts[i + 1]!.sigtermAt : Number.POSITIVE_INFINITY;
    windows.push([from, to]);
  });
  return (at) => windows.some(([from, to]) => at >= from && at < to);
}

export interface ProcessedRecord {
  partition: number;
  offset: bigint;
  value: string;
}

export interface GroupCheck {
  /** Distinct records in the topic's log. */
  logRecords: number;
  processed: number;
  /** Records in the log no member ever processed. */
  neverProcessed: number;
  /** … not counted there: records an unclean broker stop explains (replayed below the group's offsets), issue §2 (d). */
  neverProcessedUncleanRestart: number;
  /** Processings beyond one per copy in the log. */
  duplicates: number;
  duplicateRatio: number;
  /** Processed values that are not in the log. */
  processedNotInLog: number;
  examples: string[];
}

export function checkGroup(
  log: readonly LogRecord[],
  processed: readonly ProcessedRecord[],
  /** Whether an unclean broker stop can explain an anomaly of this record (see taintedBy). */
  unclean: (value: string) => boolean = () => false,
): GroupCheck {
  const inLog = countValues(log);
  const times = new Map<string, number>();
  for (const p of processed) times.set(p.value, (times.get(p.value) ?? 0) + 1);
  const examples: string[] = [];
  let never = 0;
  let neverUnclean = 0;
  let duplicates = 0;
  let notInLog = 0;
  for (const [value, copies] of inLog) {
    const n = times.get(value) ?? 0;
    if (n === 0 && unclean(value)) neverUnclean++;
    else if (n === 0) {
      never++;
      if (examples.length < 8) examples.push(`never processed: ${value} at ${copies.map((r) => key(r.partition, r.offset)).join(', ')}`);
    } else if (n > copies.length) duplicates += n - copies.length;
  }
  for (const value of times.keys()) if (!inLog.has(value)) notInLog++;
  return {
    logRecords: inLog.size,
    processed: processed.length,
    neverProcessed: never,
    neverProcessedUncleanRestart: neverUnclean,
    duplicates,
    duplicateRatio: inLog.size === 0 ? 0 : duplicates / inLog.size,
    processedNotInLog: notInLog,
    examples,
  };
}

export interface EosCheck {
  inputs: number;
  outputsCommittedView: number;
  /** Inputs without an output visible to read_committed readers. */
  missing: number;
  /** … of which the output is in the log but hidden from read_committed. */
  missingHidden: number;
  /** Extra output copies visible to read_committed readers, not explained by a broker restart. */
  duplicated: number;
  /** Extra copies never reported committed, cut off by a broker restart (issue §2 (b)). */
  duplicatedCutOffByRestart: number;
  /** … of which the ambiguous 'b?' ones. */
  duplicatedMaybeCutOff: number;
  /** Extra copies hidden (aborted) before a broker restart and visible after it (issue §2 (c)). */
  duplicatedAbortedBeforeRestart: number;
  /** Outputs for inputs that do not exist. */
  unexpected: number;
  /** Positions a committed transaction reported that read_committed does not show. */
  reportedNotVisible: number;
  /** Missing, unexpected and not-visible counts an unclean broker stop explains (issue §2 (d)), not counted above. */
  uncleanRestart: { missing: number; unexpected: number; duplicated: number; reportedNotVisible: number };
  /** Positions reported committed by two transactions. */
  reportedTwice: number;
  transactions: number;
  examples: string[];
}

export function checkEos(
  inputLog: readonly LogRecord[],
  outputCommitted: readonly LogRecord[],
  outputUncommitted: readonly LogRecord[],
  /** Output positions committed transactions reported, with when they were reported. */
  reported: ReadonlyArray<[number, bigint, number]>,
  transactions: number,
  transform: (input: string) => string,
  /**
   * Why a copy that no transaction reported committed is visible, if a broker restart explains it:
   * 'c' (it was hidden from read_committed before a restart: an aborted record the restart made
   * visible again), 'b' (written while the broker drained for a restart and never reported
   * committed: cut off by it), 'b?' (visible before a restart and not reported committed then: a
   * commit in flight that the restart cut off — or a commit whose reply was lost, which the
   * broker cannot be blamed for; counted as (b), and apart), or undefined (the client's doing).
   */
  restartExplains: (partition: number, offset: bigint) => 'b' | 'b?' | 'c' | undefined,
  /** Whether an unclean broker stop can explain an anomaly of this input record (see taintedBy) … */
  uncleanInput: (input: string) => boolean = () => false,
  /** … or of what was reported at this time. */
  uncleanAt: (at: number) => boolean = () => false,
): EosCheck {
  const unclean = { missing: 0, unexpected: 0, duplicated: 0, reportedNotVisible: 0 };
  const inputs = new Set(inputLog.map((r) => r.value));
  /** Input records per value: a value the producer stored twice is two inputs, each owed one output. */
  const inputCopies = new Map<string, number>();
  for (const r of inputLog) inputCopies.set(r.value, (inputCopies.get(r.value) ?? 0) + 1);
  const expected = new Map<string, string>();
  for (const v of inputs) expected.set(transform(v), v);
  const committed = countValues(outputCommitted);
  const uncommitted = countValues(outputUncommitted);
  const reportedSet = new Set<string>();
  const reportedAt = new Map<string, number>();
  let reportedTwice = 0;
  for (const [p, o, at] of reported) {
    const k = key(p, o);
    if (reportedSet.has(k)) {
      if (uncleanAt(at)) unclean.reportedNotVisible++;
      else reportedTwice++;
    }
    reportedSet.add(k);
    reportedAt.set(k, at);
  }
  const committedPositions = new Set(outputCommitted.map((r) => key(r.partition, r.offset)));
  const examples: string[] = [];
  const example = (text: string) => {
    if (examples.length < 12) examples.push(text);
  };
  let missing = 0;
  let missingHidden = 0;
  for (const [out, input] of expected) {
    if (committed.has(out)) continue;
    if (uncleanInput(input)) {
      unclean.missing++;
      continue;
    }
    missing++;
    if (uncommitted.has(out)) missingHidden++;
    example(`no read_committed output for ${expected.get(out)}${uncommitted.has(out) ? ' (in the log, hidden by isolation)' : ''}`);
  }
  let duplicated = 0;
  let cutOff = 0;
  let maybeCutOff = 0;
  let abortedBefore = 0;
  let unexpected = 0;
  for (const [value, copies] of committed) {
    if (!expected.has(value)) {
      const input = /^eos\((.*)\)$/s.exec(value)?.[1];
      if (input !== undefined && uncleanInput(input)) {
        unclean.unexpected += copies.length;
        continue;
      }
      unexpected += copies.length;
      example(`unexpected output ${value}`);
      continue;
    }
    const owed = inputCopies.get(expected.get(value)!) ?? 1;
    if (copies.length <= owed) continue;
    // One copy per input record is legitimate (reported ones first); every other copy is extra. An
    // extra copy that a transaction reported committed is the stage committing one input twice.
    const legit = new Set([...copies].sort((a, b) => Number(!reportedSet.has(key(a.partition, a.offset))) - Number(!reportedSet.has(key(b.partition, b.offset)))).slice(0, owed));
    const extras = copies.filter((r) => !legit.has(r));
    for (const r of extras) {
      const why = reportedSet.has(key(r.partition, r.offset)) ? undefined : restartExplains(r.partition, r.offset);
      if (why === 'b') cutOff++;
      else if (why === 'b?') {
        cutOff++;
        maybeCutOff++;
      }
      else if (why === 'c') abortedBefore++;
      else if (uncleanInput(expected.get(value)!)) unclean.duplicated++;
      else {
        duplicated++;
        const where = copies.map((c) => `${key(c.partition, c.offset)}${reportedSet.has(key(c.partition, c.offset)) ? ' (reported committed)' : ''}`);
        example(`output ${value} visible ${copies.length} times: ${where.join(', ')}`);
      }
    }
  }
  let reportedNotVisible = 0;
  for (const k of reportedSet) {
    if (committedPositions.has(k)) continue;
    if (uncleanAt(reportedAt.get(k)!)) {
      unclean.reportedNotVisible++;
      continue;
    }
    reportedNotVisible++;
    example(`reported committed at ${k}, not visible to read_committed`);
  }
  return {
    inputs: inputs.size,
    outputsCommittedView: outputCommitted.length,
    missing,
    missingHidden,
    duplicated,
    duplicatedCutOffByRestart: cutOff,
    duplicatedMaybeCutOff: maybeCutOff,
    duplicatedAbortedBeforeRestart: abortedBefore,
    unexpected,
    reportedNotVisible,
    uncleanRestart: unclean,
    reportedTwice,
    transactions,
    examples,
  };
}

/**
 * The longest stretch without progress per pipeline, not counting time the broker was down
 * (SIGTERM sent → new process READY). Work arrives until `cutoff` (the producer stops then); a
 * stretch that began before it is measured to the next progress, however late, but stretches that
 * begin after it are not counted (a pipeline that has caught up has nothing left to do).
 */
export class ProgressGaps {
  private readonly last = new Map<string, number>();
  private readonly longest = new Map<string, { ms: number; from: number; to: number }>();

  constructor(
    private readonly down: ReadonlyArray<{ from: number; to: number }>,
    private readonly start: number,
    private readonly cutoff: number,
  ) {}

  /** Declare a pipeline (its clock starts at the run's start). */
  track(name: string): void {
    if (!this.last.has(name)) this.last.set(name, this.start);
  }

  mark(name: string, at: number): void {
    const previous = this.last.get(name) ?? this.start;
    if (previous < this.cutoff) this.record(name, previous, at);
    this.last.set(name, at);
  }

  /**
   * Close, at `end`, the stretch of every pipeline that made no progress since before the cutoff
   * and did not finish its work (`finished`): one that did finished at its last progress, and was
   * idle, not stalled, after it.
   */
  finish(end: number, finished: (name: string) => boolean = () => false): Map<string, { ms: number; from: number; to: number }> {
    for (const [name, previous] of this.last) if (previous < this.cutoff && !finished(name)) this.record(name, previous, Math.max(end, this.cutoff));
    return this.longest;
  }

  private record(name: string, from: number, to: number): void {
    let ms = to - from;
    for (const d of this.down) ms -= Math.max(0, Math.min(to, d.to) - Math.max(from, d.from));
    const best = this.longest.get(name);
    if (best === undefined || ms > best.ms) this.longest.set(name, { ms, from, to });
  }
}

/** Least-squares slope of y over x (null with fewer than two points). */
export function slope(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}
