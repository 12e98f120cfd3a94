/**
 * A ready batch's way to the broker: it waits for one of `maxInFlightRequests` slots, its values
 * are compressed, BatchSender delivers it on its partition's lane, and every record of it is
 * settled with the outcome.
 */
import { defer, lastValueFrom } from 'rxjs';
import { InFlightLimiter } from '../client/in-flight-limiter.js';
import { compressValue, compressValueSync } from '../protocol/compression.js';
import type { BatchSender, WireRecord } from './batch-sender.js';
import { batchRecordWireSize, publishRequestOverhead } from '../protocol/request-size.js';
import { recordTooLarge } from './producer-record.js';
import type { PartitionLanes } from './partition-lanes.js';
import type { ResolvedProducerConfig } from './producer-config.js';
import type { ProducerHealthFeed } from './producer-health.js';
import type { PendingRecord, ProducerResult } from './producer-record.js';
import type { ReadyBatch } from './record-accumulator.js';

export interface BatchDispatchOptions {
  config: Pick<ResolvedProducerConfig, 'maxInFlightRequests' | 'compressionType' | 'maxRequestSize'>;
  lanes: PartitionLanes;
  sender: BatchSender;
  health: ProducerHealthFeed;
  /** Give `entry` its outcome: `result` when acknowledged, else `error`. */
  settle(entry: PendingRecord, error: unknown, result?: ProducerResult): void;
}

export class BatchDispatcher {
  /** `maxInFlightRequests` batches at once over all partitions; the rest wait in order (the limiter PipelinedClient uses too). */
  private readonly slots: InFlightLimiter;

  constructor(private readonly options: BatchDispatchOptions) {
    this.slots = new InFlightLimiter(options.config.maxInFlightRequests);
  }

  /** Deliver one batch (batch-sender.ts retries it until its deadline) and settle its records, once a slot is free. */
  send(queue: ReadyBatch<PendingRecord>): Promise<void> {
    return lastValueFrom(this.slots.run$(defer(() => this.deliver(queue))), { defaultValue: undefined });
  }

  private async deliver(queue: ReadyBatch<PendingRecord>): Promise<void> {
    const { health, settle } = this.options;
    const batch = queue.records;
    try {
      const values = await this.encodeValues(batch);
      // Uncompressed, every record was checked at send$ and the accumulator cut the batch to fit.
      if (this.options.config.compressionType === 'none') {
        await this.deliverRequest(queue, batch, values);
        return;
      }
      for (const request of this.fitRequests(queue.topic, batch, values)) await this.deliverRequest(queue, request.entries, request.records);
    } catch (error) {
      for (const entry of batch) settle(entry, error);
    } finally {
      health.changed();
    }
  }

  /** Send one request's records and settle each of them with the outcome. */
  private async deliverRequest(queue: ReadyBatch<PendingRecord>, batch: PendingRecord[], records: WireRecord[]): Promise<void> {
    const { lanes, sender, health, settle } = this.options;
    const outcome = await sender.send({
      topic: queue.topic,
      partition: queue.partition,
      records,
      lane: lanes.forPartition(queue.topic, queue.partition),
      // Every record timed out meanwhile: nobody waits for this batch any more.
      abandoned: () => batch.every((entry) => entry.settled),
    });
    if (outcome === undefined) return;
    if (!outcome.acknowledged) {
      health.lastError = (outcome.error as Error).message;
      for (const entry of batch) settle(entry, outcome.error);
      return;
    }
    health.lastError = undefined;
    health.counters.batchesSent++;
    health.counters.batchedRecords += batch.length;
    batch.forEach((entry, i) =>
      settle(entry, undefined, {
        topic: queue.topic,
        partition: queue.partition,
        offset: outcome.offsets[i]!,
        timestamp: BigInt(entry.acceptedAt),
        correlation: entry.correlation,
      }),
    );
  }

  /**
   * Compressed values are only sized now: a record whose request cannot fit even alone fails here
   * (MessageTooLargeError, the others go on), and the rest is cut, in order, into requests that fit
   * `maxRequestSize` — a value that does not shrink grows by its framing (up to 9 bytes).
   */
  private fitRequests(topic: string, batch: PendingRecord[], values: WireRecord[]): { entries: PendingRecord[]; records: WireRecord[] }[] {
    const limit = this.options.config.maxRequestSize;
    const overhead = publishRequestOverhead(topic);
    const requests: { entries: PendingRecord[]; records: WireRecord[] }[] = [];
    let current: { entries: PendingRecord[]; records: WireRecord[] } | undefined;
    let bytes = overhead;
    for (let i = 0; i < batch.length; i++) {
      const entry = batch[i]!;
      const record = values[i]!;
      const wire = batchRecordWireSize(record.key?.length, record.value.length);
      if (overhead + wire > limit) {
        this.options.settle(entry, recordTooLarge(topic, record.key?.length, record.value.length, overhead + wire, limit));
        continue;
      }
      if (current === undefined || bytes + wire > limit) {
        current = { entries: [], records: [] };
        requests.push(current);
        bytes = overhead;
      }
      current.entries.push(entry);
      current.records.push(record);
      bytes += wire;
    }
    return requests;
  }

  private async encodeValues(batch: PendingRecord[]): Promise<WireRecord[]> {
    const { compressionType } = this.options.config;
    if (compressionType === 'none') return batch.map((r) => ({ key: r.key, value: r.value }));
    // LZ4 and Snappy compress synchronously: no Promise per value. Only zstd values wait.
    const options = { algorithm: compressionType };
    const compressed: Buffer[] = new Array<Buffer>(batch.length);
    let waits: Promise<void>[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const value = batch[i]!.value;
      const done = compressValueSync(value, options);
      if (done !== undefined) compressed[i] = done;
      else (waits ??= []).push(compressValue(value, options).then((out) => void (compressed[i] = out)));
    }
    if (waits !== undefined) await Promise.all(waits);
    const counters = this.options.health.counters;
    for (let i = 0; i < batch.length; i++) {
      counters.originalBytes += batch[i]!.value.length;
      counters.compressedBytes += compressed[i]!.length;
    }
    return batch.map((r, i) => ({ key: r.key, value: compressed[i]! }));
  }
}
