/**
 * `registerRivvenMetrics()`: rivven-rx health as Prometheus metrics with prom-client. Gauges read the
 * components' `health()` at scrape time (no timers, nothing to stop), counters are exported as
 * Prometheus counters from the cumulative totals health carries.
 *
 * Used by examples/prometheus.ts (and its test); copy it into your service.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Consumer, ConsumerHealth, PartitionLag, Producer } from 'rivven-rx';

export interface RivvenComponents {
  producers?: Record<string, Producer>;
  consumers?: Record<string, Consumer>;
}

const CONSUMER_STATES = ['idle', 'connecting', 'joining', 'stable', 'rebalancing', 'left', 'closed'] as const satisfies readonly ConsumerHealth['state'][];

/** A counter whose value is a cumulative total read at scrape time. */
function totalCounter(registry: Registry, name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, total: number) => void) => void): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      read((labels, total) => {
        const key = JSON.stringify(labels);
        const delta = total - (seen.get(key) ?? 0);
        if (delta > 0) this.inc(labels, delta);
        seen.set(key, total);
      });
    },
  });
}

export function registerRivvenMetrics(registry: Registry, components: RivvenComponents): void {
  const producers = Object.entries(components.producers ?? {});
  const consumers = Object.entries(components.consumers ?? {});

  totalCounter(registry, 'rivven_producer_records_acked_total', 'Records the broker acknowledged', ['producer'], (set) => {
    for (const [name, p] of producers) set({ producer: name }, p.health().recordsAcked);
  });
  totalCounter(registry, 'rivven_producer_records_failed_total', 'Records that failed for good', ['producer'], (set) => {
    for (const [name, p] of producers) set({ producer: name }, p.health().recordsFailed);
  });
  totalCounter(registry, 'rivven_producer_retries_total', 'Batch retries', ['producer'], (set) => {
    for (const [name, p] of producers) set({ producer: name }, p.health().retries);
  });
  new Gauge({
    name: 'rivven_producer_pending_records',
    help: 'Records accepted and not yet acknowledged',
    labelNames: ['producer'],
    registers: [registry],
    collect() {
      for (const [name, p] of producers) this.set({ producer: name }, p.health().pendingRecords);
    },
  });
  new Gauge({
    name: 'rivven_producer_request_latency_p99_seconds',
    help: 'p99 request latency of the producer connections',
    labelNames: ['producer'],
    registers: [registry],
    collect() {
      for (const [name, p] of producers) {
        const ms = p.health().requestLatencyP99Ms;
        if (ms !== undefined) this.set({ producer: name }, ms / 1000);
      }
    },
  });

  new Gauge({
    name: 'rivven_consumer_assigned_partitions',
    help: 'Partitions the consumer owns',
    labelNames: ['consumer', 'group'],
    registers: [registry],
    collect() {
      for (const [name, c] of consumers) this.set({ consumer: name, group: c.groupId }, c.health().assignedPartitions);
    },
  });
  new Gauge({
    name: 'rivven_consumer_state',
    help: 'Consumer group state (1 for the current state)',
    labelNames: ['consumer', 'group', 'state'],
    registers: [registry],
    collect() {
      for (const [name, c] of consumers) {
        const current = c.health().state;
        for (const state of CONSUMER_STATES) this.set({ consumer: name, group: c.groupId, state }, state === current ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'rivven_consumer_lag',
    help: 'Records between the log end and the consumer position, over its partitions (health().lag, read every lagIntervalMs)',
    labelNames: ['consumer', 'group'],
    registers: [registry],
    collect() {
      for (const [name, c] of consumers) {
        const lag = c.health().lag;
        if (lag !== undefined) this.set({ consumer: name, group: c.groupId }, Number(lag));
      }
    },
  });
  // Per partition: the latest lag$ reading (lag$ is hot and completes on close(): nothing to stop).
  const latest = new Map<string, PartitionLag[]>();
  for (const [name, c] of consumers) c.lag$.subscribe((lags) => latest.set(name, lags));
  new Gauge({
    name: 'rivven_consumer_partition_lag',
    help: 'Records between the log end and the consumer position, per owned partition',
    labelNames: ['consumer', 'group', 'topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, c] of consumers) {
        for (const l of latest.get(name) ?? []) this.set({ consumer: name, group: c.groupId, topic: l.topic, partition: String(l.partition) }, Number(l.lag));
      }
    },
  });
}
