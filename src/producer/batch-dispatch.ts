/**
 * A ready batch's way to the broker: it waits for one of `maxInFlightRequests` slots, its values
 * are compressed, BatchSender delivers it on its partition's lane, and every record of it is
 * settled with the outcome.
 */
import { defer, lastValueFrom } from 'rxjs';
import { InFlightLimiter } from '../client/in-flight-limiter.js';
import { compressValue, compressValueSync } from '../protocol/compression.js';
import type { BatchSender } from './batch-sender.js';
import type { PartitionLanes } from './partition-lanes.js';
import type { ResolvedProducerConfig } from './producer-config.js';
import type { ProducerHealthFeed } from './producer-health.js';
import type { PendingRecord, ProducerResult } from './producer-record.js';
import type { ReadyBatch } from './record-accumulator.js';

export interface BatchDispatchOptions {
  config: Pick<ResolvedProducerConfig, 'maxInFlightRequests' | 'compressionType'>;
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
    const { lanes, sender, health, settle } = this.options;
    const batch = queue.records;
    const lane = lanes.forPartition(queue.topic, queue.partition);
    try {
      const records = await this.encodeValues(batch);
      const outcome = await sender.send({
        topic: queue.topic,
        partition: queue.partition,
        records,
        lane,
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
    } catch (error) {
      for (const entry of batch) settle(entry, error);
    } finally {
      health.changed();
    }
  }

  private async encodeValues(batch: PendingRecord[]): Promise<{ key?: Buffer; value: Buffer }[]> {
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
