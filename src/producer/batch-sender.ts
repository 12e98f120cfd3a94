/**
 * Delivery of one partition's batch (the producer's "sink"): send it, and on a retriable failure
 * send it again — with jittered exponential backoff (the retrier, client/retrier.ts) and a fresh connection after
 * a connection failure — until it is acknowledged, the broker refuses it for good, `retry.maxAttempts`
 * attempts were made, or nobody waits for it any more (its records reached their
 * deliveryTimeoutMs: KIP-91).
 *
 * Idempotent batches carry the session's sequence for the partition number (partition-sequences.ts);
 * a lost producer state makes the session be replaced and the batch resent at once under the new
 * id (KIP-360, idempotence.ts). A batch given up with its fate unknown ends the session too, so its
 * sequence numbers are never reused for other records.
 *
 * An acknowledgement is what the log holds: each record's offset is found by reading the log back
 * from the offset the broker named (batch-locator.ts), and a duplicate answer is believed for the
 * records found there only.
 */
import { firstValueFrom, timer } from 'rxjs';
import { ConnectionError, NotInLogError, RivvenError, ServerError, RivvenTimeoutError, isRetriable } from '../errors.js';
import type { Client } from '../client/client.js';
import { locateRecords } from './batch-locator.js';
import type { LaneHandle } from '../client/pinned-lanes.js';
import { formatAddress } from '../broker-address.js';
import { Trace, isTraced, produceChannel, type ProduceTraceMessage } from '../observability/channels.js';
import { createLog, type Log } from '../observability/log.js';
import { isFencingCode, isLostProducerState, type Idempotence, type IdempotentSession } from './idempotence.js';
import type { Retrier } from '../client/retrier.js';
import type { PartitionSequences } from './partition-sequences.js';
import type { ProducerIdentity } from '../client/client-types.js';

/**
 * An idempotent Producer is never a zombie of anyone (it takes a fresh producer id each time), so a
 * fencing answer means a stranger took its id: rivvend hands ids out from 1 again after a restart,
 * and a TransactionalProducer resuming a stored id, or a pre-restart producer at a higher epoch,
 * bumps the epoch of whoever holds that id now. Nothing of the batch was stored (the epoch is
 * checked before the append): take a new id and send it again.
 */
function isFencedByStranger(error: unknown): boolean {
  return error instanceof ServerError && error.serverCode !== undefined && isFencingCode(error.serverCode);
}

export interface WireRecord {
  key?: Buffer;
  value: Buffer;
}

/** Acknowledged: the offset of every record of the batch, as found in the log. */
export type BatchOutcome = { acknowledged: true; offsets: bigint[] } | { acknowledged: false; error: unknown };

export interface BatchSenderOptions {
  /** Whether a failed attempt is made again, and after how long (the producer's `retry`). */
  retrier: Retrier;
  /** The idempotent producer's sessions (disabled for a sender that writes transactions only). */
  idempotence: Idempotence;
  /** An attempt failed and will be repeated (for health figures). */
  onRetry(error: unknown): void;
  /** Where "giving up a batch" is logged; default: the default sink (warnings to stderr). */
  log?: Log;
}

/** Key and value bytes of a batch (only computed for a traced batch). */
function batchBytes(records: readonly WireRecord[]): number {
  let bytes = 0;
  for (const r of records) bytes += r.value.length + (r.key?.length ?? 0);
  return bytes;
}

export interface BatchTarget {
  topic: string;
  partition: number;
  records: readonly WireRecord[];
  /** The connection the partition's batches always use (order is kept per partition). */
  lane: Pick<LaneHandle, 'client' | 'reset'>;
  /** True once every record of the batch has its outcome otherwise (deliveryTimeoutMs): stop trying. */
  abandoned(): boolean;
  /** Write the records into this transaction (its commit's own producer id), one request per record. */
  transaction?: TransactionWrite;
}

/** The transaction a commit writes into (transactional-producer.ts). */
export interface TransactionWrite {
  transactionalId: string;
  identity: ProducerIdentity;
  /** The commit's producer id's sequences (fresh for each commit). */
  sequences: PartitionSequences;
}

/** Reads of a partly found batch that must agree before its tail is sent again, and the wait between them. */
const SETTLED_READS = 2;
const SETTLE_WAIT_MS = 100;

export class BatchSender {
  private readonly log: Log;
  /** Batches failed with NotInLogError so far (logged once). */
  private notInLog = 0;
  /** Per topic-partition, the offset after this producer's last acknowledged record. */
  private readonly acknowledgedUpTo = new Map<string, bigint>();

  constructor(private readonly options: BatchSenderOptions) {
    this.log = options.log ?? createLog('producer', undefined, undefined);
  }

  /** Deliver one batch; `undefined` when it was abandoned before an outcome. */
  send(target: BatchTarget): Promise<BatchOutcome | undefined> {
    // Unobserved: no trace, no closure, no extra promise.
    if (!isTraced(produceChannel)) return this.deliver(target, undefined);
    return this.tracedSend(target);
  }

  /** `rivven-rx:produce`: one trace per batch, over all its attempts. */
  private async tracedSend(target: BatchTarget): Promise<BatchOutcome | undefined> {
    const trace = new Trace<ProduceTraceMessage>(produceChannel, {
      topic: target.topic,
      partition: target.partition,
      recordCount: target.records.length,
      bytes: batchBytes(target.records),
    });
    const outcome = await this.deliver(target, trace);
    if (outcome === undefined) trace.fail(new RivvenTimeoutError('batch abandoned: every record of it reached deliveryTimeoutMs before an answer'));
    else if (outcome.acknowledged) trace.finish({ baseOffset: outcome.offsets[0]! });
    else trace.fail(outcome.error);
    return outcome;
  }

  private async deliver(target: BatchTarget, trace: Trace<ProduceTraceMessage> | undefined): Promise<BatchOutcome | undefined> {
    const { idempotence, retrier } = this.options;
    /** Offsets found in the log, per record of the batch; the records not yet found go out again. */
    const offsets = new Array<bigint | undefined>(target.records.length).fill(undefined);
    let pending = target.records.map((_, i) => i);
    /** The session of a failed attempt whose outcome is unknown (the batch may be stored). */
    let unknownOutcome: IdempotentSession | undefined;
    /** The session of an attempt that may have stored the batch, until the batch is looked for under a new one. */
    let maybeStoredBy: IdempotentSession | undefined;
    let failures = 0;
    let resentAfterReset = false;
    try {
      for (let attempt = 0; ; attempt++) {
        if (target.abandoned()) {
          if (unknownOutcome !== undefined) idempotence.reset(unknownOutcome);
          return undefined;
        }
        let session: IdempotentSession | undefined;
        try {
          session = target.transaction === undefined ? await idempotence.current() : undefined;
          const client = await target.lane.client();
          if (trace !== undefined) trace.message.broker = formatAddress(client.address);
          if (session !== undefined && maybeStoredBy !== undefined && maybeStoredBy !== session) {
            // An attempt under the old producer id may have stored the batch (its answer was lost,
            // then the broker forgot the id: a restart). The new id cannot be deduplicated against
            // it, so look for the records in the log before sending them again (KIP-360's cost).
            maybeStoredBy = undefined;
            const head = await this.search(target, pending.map((i) => target.records[i]!));
            head.forEach((offset, k) => (offsets[pending[k]!] = offset));
            pending = pending.slice(head.length);
            if (pending.length === 0) return this.acknowledged(target, offsets as bigint[]);
          }
          const records = pending.map((i) => target.records[i]!);
          if (session !== undefined && !session.sequences.fits(target.partition, records.length)) {
            idempotence.reset(session, 'the sequence numbers of this producer id are used up');
            continue;
          }
          const found =
            target.transaction !== undefined
              ? await this.sendTransactional(client, target, records, target.transaction)
              : session !== undefined
                ? await this.sendIdempotent(client, target, records, session)
                : await this.sendPlain(client, target, records);
          unknownOutcome = undefined;
          found.forEach((offset, k) => (offsets[pending[k]!] = offset));
          pending = pending.slice(found.length);
          if (pending.length === 0) return this.acknowledged(target, offsets as bigint[]);
          // A duplicate answer covered only the head of the batch: the rest goes out now, under the
          // sequences that follow it (or, when nothing was found, under a new producer id).
          attempt--;
        } catch (error) {
          const lostState = session !== undefined && (isLostProducerState(error) || isFencedByStranger(error));
          if (lostState) idempotence.reset(session!, error);
          // A lost producer id is retried whatever its class: the batch goes out under the new one.
          const retriable = lostState || isRetriable(error);
          // A retriable failure leaves the batch's fate open (the broker may have stored it) until
          // an answer settles it; a lost session was replaced already.
          if (lostState) unknownOutcome = undefined;
          else if (retriable && session !== undefined) unknownOutcome = maybeStoredBy = session;
          failures = attempt + 1;
          const wait = retrier.next(error, failures, { retriable: () => retriable });
          if (wait === undefined) {
            if (unknownOutcome !== undefined) idempotence.reset(unknownOutcome);
            this.giveUp(target, error, failures, retriable);
            return { acknowledged: false, error };
          }
          this.options.onRetry(error);
          if (error instanceof ConnectionError || error instanceof RivvenTimeoutError) target.lane.reset();
          // The first resend under a new producer id goes at once; everything else backs off.
          const delay = lostState && !resentAfterReset ? 0 : wait;
          if (lostState) resentAfterReset = true;
          await firstValueFrom(timer(delay, retrier.scheduler));
        }
      }
    } catch (error) {
      if (unknownOutcome !== undefined) idempotence.reset(unknownOutcome);
      this.giveUp(target, error, failures + 1, false);
      return { acknowledged: false, error };
    }
  }

  /** A plain batch: stored whole when answered; its records are then looked up from the named offset. */
  private async sendPlain(client: Client, target: BatchTarget, records: readonly WireRecord[]): Promise<bigint[]> {
    const reply = await firstValueFrom(client.publishBatch$(target.topic, records, { partition: target.partition }));
    return this.stored(target, records, reply.baseOffset);
  }

  /**
   * An idempotent batch under `session`'s sequences for the partition number. A fresh answer means
   * every record was stored; a duplicate answer means an earlier attempt stored the head of the
   * batch (at least its first record, at the offset the broker cached): the head found in the log
   * is acknowledged and its sequences are spent, the rest is returned to be sent again.
   */
  private async sendIdempotent(client: Client, target: BatchTarget, records: readonly WireRecord[], session: IdempotentSession): Promise<bigint[]> {
    const baseSequence = session.sequences.next(target.partition);
    const reply = await firstValueFrom(
      client.idempotentPublishBatch$(target.topic, records, session.identity, baseSequence, { partition: target.partition }),
    );
    if (!reply.duplicate) {
      session.sequences.advance(target.partition, records.length);
      return this.stored(target, records, reply.baseOffset);
    }
    // The broker caches the offsets of a producer's last 5 sequences per partition number: when more
    // than 5 of the batch were stored, the answer names the last stored record, not the first. Then
    // the batch is searched for from where this producer's acknowledged records of the partition end.
    const find = async (): Promise<bigint[]> => {
      const anchored = await this.locate(target, records, reply.baseOffset);
      return anchored.length > 0 ? anchored : this.search(target, records);
    };
    let head = await find();
    // Only the head is there: most likely the earlier attempt is still being appended inside the
    // broker (it finishes a request whose connection died, one record per WAL write). Sending the
    // tail now would race it — rivvend validates a sequence before the append and records it after,
    // so both would be stored. Read again until the log stops growing, then send what is missing.
    for (let unchanged = 0; head.length > 0 && head.length < records.length && unchanged < SETTLED_READS; ) {
      await firstValueFrom(timer(SETTLE_WAIT_MS, this.options.retrier.scheduler));
      const again = await find();
      unchanged = again.length === head.length ? unchanged + 1 : 0;
      head = again;
    }
    if (head.length === 0) {
      // The offset the broker cached is not our first record's: its answer cannot be believed, and
      // which of our sequences it holds is unknown. A new producer id starts clean.
      this.log.warn('a duplicate answer named an offset that does not hold the batch: resending it under a new producer id', {
        topic: target.topic,
        partition: target.partition,
        offset: reply.baseOffset,
        producerId: session.identity.producerId,
      });
      this.options.idempotence.reset(session, 'a duplicate answer that the log does not confirm');
      return [];
    }
    session.sequences.advance(target.partition, head.length);
    return head;
  }

  /**
   * A commit's records of one partition, pipelined (the broker handles a connection's requests in
   * order, so sequences arrive in order). rivvend has no transactional batch request; each reply
   * names its own record's offset. A transactional write is never repeated under the same producer
   * id — its duplicate answer looks like a fresh one — so a failure fails the commit.
   */
  private async sendTransactional(client: Client, target: BatchTarget, records: readonly WireRecord[], txn: TransactionWrite): Promise<bigint[]> {
    const sequences = txn.sequences.take(records.map(() => target.partition));
    const settled = await Promise.allSettled(
      records.map((record, i) =>
        firstValueFrom(
          client.transactionalPublish$(txn.transactionalId, target.topic, { value: record.value, key: record.key, partition: target.partition }, txn.identity, sequences[i]!),
        ),
      ),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<{ offset: bigint }>).value.offset);
  }

  /** Every record of a stored batch, found in the log from `firstOffset` on; any not found is a broker lie. */
  private async stored(target: BatchTarget, records: readonly WireRecord[], firstOffset: bigint): Promise<bigint[]> {
    // One record: the offset the broker named is its own.
    if (records.length === 1) return [firstOffset];
    const found = await this.locate(target, records, firstOffset);
    if (found.length < records.length) {
      throw new NotInLogError(
        `the broker acknowledged ${records.length} records for ${target.topic}/${target.partition} from offset ${firstOffset}, ` +
          `but reading the log back finds ${found.length} of them there; they are not acknowledged (read the partition to see what it holds)`,
      );
    }
    return found;
  }

  /** The batch is acknowledged: remember where this producer's records of the partition end. */
  private acknowledged(target: BatchTarget, offsets: bigint[]): BatchOutcome {
    const key = `${target.topic}\u0000${target.partition}`;
    const after = offsets.reduce((max, o) => (o > max ? o : max), -1n) + 1n;
    if (after > (this.acknowledgedUpTo.get(key) ?? 0n)) this.acknowledgedUpTo.set(key, after);
    return { acknowledged: true, offsets };
  }

  /**
   * Look for a batch an attempt under a lost producer id may have stored, from where this
   * producer's last acknowledged record of the partition ends (batches of a partition go one at a
   * time, so it cannot be earlier). Nothing to start from (the partition's first batch): not found.
   */
  private async search(target: BatchTarget, records: readonly WireRecord[]): Promise<bigint[]> {
    const from = this.acknowledgedUpTo.get(`${target.topic}\u0000${target.partition}`);
    if (from === undefined) return [];
    try {
      const client = await target.lane.client();
      return await locateRecords(client, { topic: target.topic, partition: target.partition, records, firstOffset: from, search: true });
    } catch {
      // Not readable now: send the batch again (it may then be stored twice, as before this search).
      return [];
    }
  }

  /**
   * Read the records back (batch-locator.ts). The write is settled by now, so a read that fails is
   * read again (on a fresh connection) rather than the batch sent again, which would store it twice.
   */
  private async locate(target: BatchTarget, records: readonly WireRecord[], firstOffset: bigint): Promise<bigint[]> {
    return this.options.retrier.run(
      async () => {
        const client = await target.lane.client();
        return locateRecords(client, { topic: target.topic, partition: target.partition, records, firstOffset });
      },
      {
        stopped: () => target.abandoned(),
        onRetry: (error) => {
          if (error instanceof ConnectionError || error instanceof RivvenTimeoutError) target.lane.reset();
          this.options.onRetry(error);
        },
      },
    );
  }

  private giveUp(target: BatchTarget, error: unknown, attempts: number, retriesExhausted: boolean): void {
    if (error instanceof NotInLogError) {
      // After a broker crash, rivvend's recovery can leave a partition whose every batch is answered
      // with offsets its log does not hold: say it once, then count (health().recordsFailed).
      this.notInLog++;
      if (this.notInLog > 1 || !this.log.enabled('warn')) return;
      this.log.warn('acknowledgements the log does not bear out: the records fail with NotInLogError (rivvend crash recovery? see docs/broker-behaviour.md); later ones are counted in recordsFailed, not logged', {
        topic: target.topic,
        partition: target.partition,
        records: target.records.length,
        errorCode: error.code,
        error: error.message,
      });
      return;
    }
    if (!this.log.enabled('warn')) return;
    this.log.warn(retriesExhausted ? `giving up a batch after ${attempts} attempts (retry.maxAttempts reached)` : 'giving up a batch: the broker refused it', {
      topic: target.topic,
      partition: target.partition,
      records: target.records.length,
      attempt: attempts,
      errorCode: error instanceof RivvenError ? error.code : 'UNKNOWN',
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
