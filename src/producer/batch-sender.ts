/**
 * Delivery of one partition's batch (the producer's "sink"): send it, and on a retriable failure
 * send it again — with jittered exponential backoff (retry-delay.ts) and a fresh connection after
 * a connection failure — until it is acknowledged, the broker refuses it for good, `retry.maxAttempts`
 * attempts were made, or nobody waits for it any more (its records reached their
 * deliveryTimeoutMs: KIP-91).
 *
 * Idempotent batches carry the session's sequence for the partition; a lost producer state makes
 * the session be replaced and the batch resent at once under the new id (KIP-360, idempotence.ts).
 * A batch given up with its fate unknown ends the session too, so its sequence numbers are never
 * reused for other records.
 */
import { firstValueFrom, timer, type SchedulerLike } from 'rxjs';
import { ConnectionError, RivvenError, TimeoutError } from '../errors.js';
import type { LaneHandle } from '../client/server-lanes.js';
import { formatAddress } from '../transport/address.js';
import { Trace, isTraced, produceChannel, type ProduceTraceMessage } from '../observability/channels.js';
import { createLog, type Log } from '../observability/log.js';
import { isLostProducerState, type Idempotence, type IdempotentSession } from './idempotence.js';
import type { ResolvedRetryPolicy } from '../connection-settings.js';
import { retryDelay } from './retry-delay.js';

export interface WireRecord {
  key?: Buffer;
  value: Buffer;
}

export type BatchOutcome = { acknowledged: true; baseOffset: bigint } | { acknowledged: false; error: unknown };

export interface BatchSenderOptions {
  /** Pacing of the attempts, and how many (the first included) are made at most. */
  retry: ResolvedRetryPolicy;
  scheduler: SchedulerLike;
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
}

export class BatchSender {
  private readonly log: Log;

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
    if (outcome === undefined) trace.fail(new TimeoutError('batch abandoned: every record of it reached deliveryTimeoutMs before an answer'));
    else if (outcome.acknowledged) trace.finish({ baseOffset: outcome.baseOffset });
    else trace.fail(outcome.error);
    return outcome;
  }

  private async deliver(target: BatchTarget, trace: Trace<ProduceTraceMessage> | undefined): Promise<BatchOutcome | undefined> {
    const { idempotence, scheduler } = this.options;
    const sequenceKey = `${target.topic}\u0000${target.partition}`;
    /** The session of a failed attempt whose outcome is unknown (the batch may be stored). */
    let unknownOutcome: IdempotentSession | undefined;
    let backoffs = 0;
    let resentAfterReset = false;
    try {
      for (let attempt = 0; ; attempt++) {
        if (target.abandoned()) {
          if (unknownOutcome !== undefined) idempotence.reset(unknownOutcome);
          return undefined;
        }
        let session: IdempotentSession | undefined;
        try {
          session = await idempotence.current();
          const client = await target.lane.client();
          if (trace !== undefined) trace.message.broker = formatAddress(client.address);
          let baseOffset: bigint;
          if (session !== undefined) {
            const baseSequence = session.sequences.get(sequenceKey) ?? 0;
            const result = await firstValueFrom(
              client.idempotentPublishBatch$(target.topic, target.records, session.identity, baseSequence, { partition: target.partition }),
            );
            session.sequences.set(sequenceKey, baseSequence + target.records.length);
            baseOffset = result.baseOffset;
          } else {
            baseOffset = (await firstValueFrom(client.publishBatch$(target.topic, target.records, { partition: target.partition }))).baseOffset;
          }
          return { acknowledged: true, baseOffset };
        } catch (error) {
          const lostState = session !== undefined && isLostProducerState(error);
          if (lostState) idempotence.reset(session!, error);
          const retriable = lostState || (error instanceof RivvenError && error.retriable);
          // A retriable failure leaves the batch's fate open (the broker may have stored it) until
          // an answer settles it; a lost session was replaced already.
          if (lostState) unknownOutcome = undefined;
          else if (retriable && session !== undefined) unknownOutcome = session;
          if (!retriable || attempt + 1 >= this.options.retry.maxAttempts) {
            if (unknownOutcome !== undefined) idempotence.reset(unknownOutcome);
            this.giveUp(target, error, attempt + 1, retriable);
            return { acknowledged: false, error };
          }
          this.options.onRetry(error);
          if (error instanceof ConnectionError || error instanceof TimeoutError) target.lane.reset();
          // The first resend under a new producer id goes at once; everything else backs off.
          const delay = lostState && !resentAfterReset ? 0 : retryDelay(backoffs++, this.options.retry);
          if (lostState) resentAfterReset = true;
          await firstValueFrom(timer(delay, scheduler));
        }
      }
    } catch (error) {
      if (unknownOutcome !== undefined) idempotence.reset(unknownOutcome);
      this.giveUp(target, error, backoffs + 1, false);
      return { acknowledged: false, error };
    }
  }

  private giveUp(target: BatchTarget, error: unknown, attempts: number, retriesExhausted: boolean): void {
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
