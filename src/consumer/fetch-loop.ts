/**
 * The fetch loop of one owned partition: fetch while there is credit, check what the broker sent,
 * decode values within budget, hand the records to the consumer for emission.
 *
 * What the broker sends is not trusted:
 * - At most `maxMessages` records are kept per fetch (the credit left of `maxPollRecords`), only
 *   those at or after the requested offset, and only in strictly increasing offset order: a record
 *   at an offset at or below one already emitted in the epoch is dropped and counted (rivvend
 *   0.0.22 replays its WAL over its segments after a crash and then serves one offset several times).
 * - A fetch that only brings offsets below the requested one, or no progress while the log end is
 *   ahead, backs off; after MAX_NO_PROGRESS in a row it fails with a ProtocolError — no spinning.
 * - A reply of the wrong type, an offset ≥ 2⁶³ or a record of another partition is a protocol
 *   violation: the lane's connection is closed (the next fetch opens a new one) and after
 *   MAX_PROTOCOL_VIOLATIONS in a row the stream fails.
 * - Values are decoded (value-decoder.ts) against the per-fetch budget and what is left of the
 *   in-flight budget; what does not fit is fetched again later, a value that cannot fit even alone
 *   is a ConfigError naming the option to raise.
 * - A log end below the position (the broker lost records) is reported and the partition continues
 *   at the new log end in a new epoch.
 * - read_committed: offsets missing from an answer are checked against a read_uncommitted read of
 *   the same offsets. Records there were hidden by isolation (reported: HiddenRecordsEvent); none
 *   there means transaction markers (stepped over silently) or, when nothing at all is served
 *   from the position, the 'unreadable' case below.
 */
import { firstValueFrom } from 'rxjs';
import type { Client } from '../client/client.js';
import type { IsolationLevel } from '../client/client-types.js';
import { errorFromResponse } from '../client/broker-exchange.js';
import { ConfigError, ConnectionError, ProtocolError, ServerError, ThrottledError, RivvenTimeoutError } from '../errors.js';
import type { MessageData } from '../protocol/response-schema.js';
import type { ResolvedConsumerConfig } from './consumer-config.js';
import type { HiddenRecordsEvent, TruncationEvent } from './consumer-health.js';
import type { DecodedBudget } from './decoded-budget.js';
import { resetPosition } from './offset-store.js';
import type { ClientKind, PartitionState } from './partition-state.js';
import { decodeValues } from '../protocol/value-decoder.js';
import { Trace, fetchChannel, isTraced, type FetchTraceMessage } from '../observability/channels.js';
import type { Retrier } from '../client/retrier.js';

/** Protocol violations in a row (each on a fresh connection) before the stream fails. */
export const MAX_PROTOCOL_VIOLATIONS = 3;
/** Fetches in a row that bring nothing at or after the requested offset before the stream fails. */
export const MAX_NO_PROGRESS = 6;
const MAX_OFFSET = 2n ** 63n;
const ISOLATION: Record<IsolationLevel, number> = { read_uncommitted: 0, read_committed: 1 };

/** What the fetch loop needs from the consumer. */
export interface FetchHost {
  readonly config: ResolvedConsumerConfig;
  readonly budget: DecodedBudget;
  /** The session or the partition ended. */
  done(state: PartitionState): boolean;
  client(kind: ClientKind): Promise<Client>;
  dropClient(kind: ClientKind): void;
  /** Resolves after `ms` on the scheduler, or at once when the session stops. */
  sleep(ms: number): Promise<void>;
  /** The consumer's retrier (retry): whether a failed fetch is tried again, and when. */
  readonly retrier: Retrier;
  now(): number;
  /** Emit these fetched records (epoch-checked again at emission). */
  emit(state: PartitionState, epoch: number, records: readonly MessageData[], values: readonly Buffer[]): void;
  /** The partition waits for acknowledgements (true) or no longer does (false). */
  waiting(state: PartitionState, waiting: boolean): void;
  duplicates(state: PartitionState, count: number): void;
  truncated(event: TruncationEvent): void;
  /** read_committed: records the broker hid by isolation were stepped over. */
  hidden(event: HiddenRecordsEvent): void;
  error(error: unknown): void;
}

/** The broker keeps answering without progress: final for this stream (not a violation to retry on a new connection). */
class NoProgressError extends ProtocolError {}

/** Thrown when a decoding budget is too small for one value. */
function budgetError(option: 'maxFetchDecodedBytes' | 'maxInFlightDecodedBytes', state: PartitionState, offset: bigint, needs: number, limit: number): ConfigError {
  return new ConfigError(
    option,
    `the value at offset ${offset} of ${state.topic}/${state.partition} decodes to ${needs} bytes, more than ${option} (${limit}); raise ${option}` +
      (option === 'maxFetchDecodedBytes' ? ' (and maxInFlightDecodedBytes if it is smaller than the new value)' : ''),
  );
}

export class FetchLoop {
  private violations = 0;
  private noProgress = 0;
  private failures = 0;

  constructor(
    private readonly host: FetchHost,
    private readonly state: PartitionState,
  ) {}

  async run(): Promise<void> {
    const { host, state } = this;
    const max = BigInt(host.config.maxPollRecords);
    try {
      while (!host.done(state)) {
        const noCredit = state.outstanding() * 2n > max;
        if (state.held() || noCredit || host.budget.available() <= 0) {
          if (!state.held()) this.markWaiting(true);
          await this.waitForSignal();
          continue;
        }
        this.markWaiting(false);
        await this.fetchOnce(Number(max - state.outstanding()));
      }
    } finally {
      this.markWaiting(false);
      if (state.stopped) state.releaseAll();
    }
  }

  private markWaiting(waiting: boolean): void {
    const state = this.state;
    if (waiting && state.waitingSince === undefined) {
      state.waitingSince = this.host.now();
      this.host.waiting(state, true);
    } else if (!waiting && state.waitingSince !== undefined) {
      state.waitingSince = undefined;
      this.host.waiting(state, false);
    }
  }

  /** Until an ack, seek, resume, revoke or a release of budget bytes. */
  private async waitForSignal(): Promise<void> {
    const { state, host } = this;
    let cancel: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      state.wake = resolve;
      cancel = host.budget.onRelease(() => state.signal());
    });
    cancel?.();
  }

  private async fetchOnce(maxMessages: number): Promise<void> {
    const { host, state } = this;
    const config = host.config;
    const epoch = state.epoch;
    const from = state.position;
    let fetched: readonly MessageData[];
    let client: Client;
    // `rivven-rx:fetch`: built only while someone listens.
    const trace = isTraced(fetchChannel)
      ? new Trace<FetchTraceMessage>(fetchChannel, { topic: state.topic, partition: state.partition, offset: from, maxMessages, groupId: config.groupId })
      : undefined;
    try {
      client = await host.client(state.lane);
      fetched = await this.fetchRaw(client, from, maxMessages, config.isolationLevel, state.maxWaitMs);
      this.failures = 0;
      trace?.finish({ recordCount: fetched.length });
    } catch (error) {
      trace?.fail(error);
      await this.onError(error, epoch, from);
      return;
    }
    if (host.done(state) || state.epoch !== epoch || state.position !== from) return;
    this.violations = 0;
    if (fetched.length === 0) {
      try {
        await this.afterEmpty(client, from, maxMessages, epoch);
      } catch (error) {
        if (error instanceof NoProgressError) throw error;
        await this.onError(error, epoch, from);
      }
      return;
    }
    // Keep records at or after `from`, strictly increasing, at most maxMessages.
    // (`offset <= last` rather than `offset < last + 1n`: no bigint is made per record.)
    const kept: MessageData[] = [];
    let last: bigint | undefined;
    let duplicates = 0;
    for (const record of fetched) {
      const offset = record.offset;
      if (last === undefined ? offset < from : offset <= last) {
        // At or below an offset already emitted (or stepped over) in this epoch.
        if (offset >= state.epochStart) duplicates++;
        continue;
      }
      if (kept.length >= maxMessages) break;
      kept.push(record);
      last = offset;
    }
    if (duplicates > 0) host.duplicates(state, duplicates);
    if (kept.length === 0) {
      // Only offsets below the one asked for: the broker ignores the offset, or replays old records.
      await this.stalled(`answered Consume of ${state.topic}/${state.partition} from offset ${from} only with records below it`);
      return;
    }
    this.noProgress = 0;
    const available = Math.min(config.maxFetchDecodedBytes, host.budget.available());
    const decoded = await decodeValues(
      kept.map((r) => r.value),
      { framing: config.valueFraming, budgetBytes: available },
    );
    if (decoded.decoded.length === 0) {
      const needs = decoded.nextNeeds ?? 0;
      const offset = kept[0]!.offset;
      if (needs > config.maxFetchDecodedBytes) throw budgetError('maxFetchDecodedBytes', state, offset, needs, config.maxFetchDecodedBytes);
      if (needs > config.maxInFlightDecodedBytes || host.budget.inFlightBytes === 0) {
        throw budgetError('maxInFlightDecodedBytes', state, offset, needs, config.maxInFlightDecodedBytes);
      }
      // Emitted records hold the budget: wait for acknowledgements to give bytes back.
      if (!host.done(state) && state.epoch === epoch) {
        this.markWaiting(true);
        await this.waitForSignal();
      }
      return;
    }
    if (host.done(state) || !state.emitting || state.epoch !== epoch || state.held() || state.position !== from) return;
    const records = kept.slice(0, decoded.decoded.length);
    const end = records[records.length - 1]!.offset + 1n;
    state.position = end;
    state.emittedEnd = end;
    state.hold(end, decoded.bytes);
    host.emit(state, epoch, records, decoded.decoded);
    if (config.isolationLevel === 'read_committed') await this.reportHidden(client, from, records);
  }

  /**
   * read_committed: were the offsets this answer stepped over (before its first record and between
   * its records) hidden by isolation? rivvend 0.0.22 reads a range of the log and then filters it
   * (handler/consume.rs: control records always; under read_committed also every transactional
   * record whose (producer id, offset) an aborted range covers — transaction.rs `is_aborted`), so
   * a read_uncommitted read of the same offsets shows exactly the hidden records, and markers in
   * neither. Informational: the records were emitted already, and a failed check reports nothing.
   */
  private async reportHidden(client: Client, from: bigint, records: readonly MessageData[]): Promise<void> {
    const missing = new Set<bigint>();
    let expected = from;
    for (const record of records) {
      for (let offset = expected; offset < record.offset; offset++) missing.add(offset);
      expected = record.offset + 1n;
    }
    if (missing.size === 0) return;
    const offsets = [...missing];
    const first = offsets[0]!;
    const last = offsets[offsets.length - 1]!;
    let raw: readonly MessageData[];
    try {
      raw = await this.fetchRaw(client, first, Number(last - first + 1n), 'read_uncommitted', 0);
    } catch (error) {
      this.host.error(error);
      return;
    }
    const hidden = raw.filter((r) => missing.has(r.offset));
    if (hidden.length === 0) return; // markers only
    this.reportHiddenRange(hidden[0]!.offset, hidden[hidden.length - 1]!.offset + 1n, hidden.length);
  }

  private reportHiddenRange(from: bigint, to: bigint, records: number): void {
    const { state, host } = this;
    host.hidden({ type: 'hidden-by-isolation', topic: state.topic, partition: state.partition, from, to, records, at: host.now() });
  }

  /** One Consume, checked: the raw records (values as stored) or a typed error. */
  private async fetchRaw(client: Client, from: bigint, maxMessages: number, isolationLevel: IsolationLevel, maxWaitMs: number): Promise<readonly MessageData[]> {
    const { state, host } = this;
    const response = await firstValueFrom(
      client.request$(
        {
          type: 'Consume',
          topic: state.topic,
          partition: state.partition,
          offset: from,
          maxMessages,
          isolationLevel: ISOLATION[isolationLevel],
          maxWaitMs: maxWaitMs > 0 ? BigInt(maxWaitMs) : undefined,
        },
        // A long poll legitimately takes maxWaitMs; requestTimeoutMs bounds the rest.
        { timeoutMs: maxWaitMs + host.config.requestTimeoutMs },
      ),
    );
    if (response.type !== 'Messages') throw errorFromResponse(response, 'Consume');
    for (const record of response.messages) {
      if (record.offset >= MAX_OFFSET) {
        throw new ProtocolError(`broker sent offset ${record.offset} (≥ 2^63) for ${state.topic}/${state.partition}: not a valid offset`);
      }
      if (record.partition !== state.partition) {
        throw new ProtocolError(`broker answered Consume of ${state.topic}/${state.partition} with a record of partition ${record.partition}`);
      }
    }
    return response.messages;
  }

  private async onError(error: unknown, epoch: number, from: bigint): Promise<void> {
    const { host, state } = this;
    const config = host.config;
    if (host.done(state)) return;
    host.error(error);
    if (error instanceof ServerError && error.serverCode === 'OFFSET_OUT_OF_RANGE') {
      let bounds;
      try {
        const client = await host.client(state.lane);
        bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
      } catch (boundsError) {
        host.error(boundsError);
        await host.sleep(host.retrier.delay(this.failures++));
        return;
      }
      if (state.epoch !== epoch || state.position !== from) return;
      if (bounds.latest < from) this.truncate(from, bounds.latest);
      else state.restart(resetPosition(bounds, config.autoOffsetReset));
      return;
    }
    if (error instanceof ProtocolError) {
      // The broker broke the protocol: never reuse the connection; give up after a few fresh ones.
      host.dropClient(state.lane);
      if (++this.violations >= MAX_PROTOCOL_VIOLATIONS) {
        throw new ProtocolError(`${error.message} (${this.violations} times in a row, each on a new connection); giving up on ${state.topic}/${state.partition}`, {
          cause: error,
        });
      }
      await host.sleep(host.retrier.delay(this.violations - 1));
      return;
    }
    const wait = host.retrier.next(error, ++this.failures);
    if (wait === undefined) throw error;
    // A connection error or a timeout leaves the connection in doubt: the next fetch opens a new one.
    if (error instanceof ConnectionError || error instanceof RivvenTimeoutError) host.dropClient(state.lane);
    // Throttled: wait what the broker asks, but never longer than a request may take.
    const throttleMs = error instanceof ThrottledError ? Number(error.throttleTimeMs < BigInt(config.requestTimeoutMs) ? error.throttleTimeMs : BigInt(config.requestTimeoutMs)) : 0;
    await host.sleep(Math.max(throttleMs, wait));
  }

  private async stalled(what: string): Promise<void> {
    const { host } = this;
    if (++this.noProgress >= MAX_NO_PROGRESS) {
      throw new NoProgressError(`broker ${what} (${this.noProgress} fetches in a row); the broker is not serving the partition correctly`);
    }
    await host.sleep(host.retrier.delay(this.noProgress - 1));
  }

  /**
   * An empty answer. If the log end is below the position the broker lost records (truncation).
   * If the partition has records past the position they are invisible (transaction markers;
   * aborted records under read_committed): step over them.
   */
  private async afterEmpty(client: Client, from: bigint, maxMessages: number, epoch: number): Promise<void> {
    const { state, host } = this;
    const bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
    if (state.position !== from || state.epoch !== epoch || host.done(state)) return;
    if (bounds.latest < from) {
      this.truncate(from, bounds.latest);
      return;
    }
    if (bounds.latest === from) {
      this.noProgress = 0;
      return;
    }
    let next: bigint;
    let progress = true;
    let hiddenRange: { from: bigint; to: bigint; records: number } | undefined;
    if (from < bounds.earliest) {
      next = bounds.earliest;
    } else {
      const raw = await this.fetchRaw(client, from, maxMessages, 'read_uncommitted', 0);
      const first = raw.find((r) => r.offset >= from);
      if (first === undefined) {
        if (raw.length > 0) {
          await this.stalled(`answered Consume of ${state.topic}/${state.partition} from offset ${from} only with records below it`);
          return;
        }
        // The log end is ahead, yet nothing at all is readable from here (rivvend 0.0.22 does this
        // for an offset or two after a crash). Back off; after MAX_NO_PROGRESS tries step over the
        // gap once — and if that does not help either, the broker is not serving the partition.
        if (++this.noProgress < MAX_NO_PROGRESS) {
          await host.sleep(host.retrier.delay(this.noProgress - 1));
          return;
        }
        if (this.noProgress > MAX_NO_PROGRESS) {
          throw new NoProgressError(
            `broker reports the log end of ${state.topic}/${state.partition} at ${bounds.latest} but returns no record at or after offset ${from} ` +
              `(${this.noProgress} fetches in a row); the broker is not serving the partition correctly`,
          );
        }
        progress = false;
        next = from + BigInt(maxMessages) < bounds.latest ? from + BigInt(maxMessages) : bounds.latest;
      } else if (first.offset > from) {
        next = first.offset; // only control records (markers) before it
      } else {
        // Records at `from`: hidden by read_committed — or simply appended after our empty fetch.
        // Ask again in our isolation level: skipping records that are visible would lose them.
        const again = await this.fetchRaw(client, from, maxMessages, host.config.isolationLevel, 0);
        if (again.some((r) => r.offset >= from)) return; // visible: the next fetch emits them
        if (host.config.isolationLevel === 'read_uncommitted') {
          // Visible a moment ago, gone now: the broker is not consistent. Do not skip; back off.
          await this.stalled(`showed records of ${state.topic}/${state.partition} at offset ${from} and then none`);
          return;
        }
        // Both reads start at `from` and cover the same first maxMessages entries of the log, and
        // the second shows none of them: all of raw is hidden by isolation. Say so (never a silent
        // skip, and not 'unreadable': the records are there, read_uncommitted shows them).
        let last = from;
        let hidden = 0;
        for (const r of raw) {
          if (r.offset < from) continue;
          hidden++;
          if (r.offset > last) last = r.offset;
        }
        next = last + 1n;
        hiddenRange = { from, to: next, records: hidden };
      }
    }
    if (state.position === from && state.epoch === epoch && !state.stopped) {
      if (progress) this.noProgress = 0;
      state.position = next;
      if (state.acked === undefined && state.epochStart === from) state.epochStart = next;
      // Records the broker claims but will not serve are lost to this consumer: say so, never skip silently.
      if (hiddenRange !== undefined) this.reportHiddenRange(hiddenRange.from, hiddenRange.to, hiddenRange.records);
      if (!progress) host.truncated({ type: 'unreadable', topic: state.topic, partition: state.partition, position: from, logEnd: bounds.latest, resumeAt: next, at: host.now() });
    }
  }

  /** The log end is below the position: report it and continue at the log end in a new epoch. */
  private truncate(position: bigint, logEnd: bigint): void {
    const { state, host } = this;
    state.restart(logEnd);
    // Offsets at or above the log end that we committed do not exist any more: the group's
    // committed offset is now ahead of the log (rivvend refuses commits beyond the log end).
    if (state.committed !== undefined && state.committed > logEnd) state.committed = undefined;
    host.truncated({ type: 'truncated', topic: state.topic, partition: state.partition, position, logEnd, resumeAt: logEnd, at: host.now() });
  }
}
