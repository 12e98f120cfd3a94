/**
 * The partitions a Consumer owns (their PartitionState by topic/partition), and the seeks and
 * pauses asked for partitions it does not own yet: those apply when the partition is assigned.
 * Seek, pause and resume of an owned partition take effect here at once.
 */
import { ConfigError } from '../errors.js';
import type { HeldRecord } from './consumer-health.js';
import { tpKey, type TopicPartition, type TopicPartitionOffset } from './consumer-record.js';
import type { PartitionState } from './partition-state.js';

export class OwnedPartitions {
  private readonly states = new Map<string, PartitionState>();
  private readonly pendingSeeks = new Map<string, bigint>();
  private readonly pausedKeys = new Set<string>();

  get size(): number {
    return this.states.size;
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.states.get(tpKey(topic, partition));
  }

  values(): IterableIterator<PartitionState> {
    return this.states.values();
  }

  /** Every state held, also those being revoked. */
  all(): PartitionState[] {
    return [...this.states.values()];
  }

  /** Owned and not revoked: the given partitions of them (default: all; others are ignored). */
  live(partitions?: TopicPartition[]): PartitionState[] {
    const all = this.all().filter((s) => !s.stopped);
    if (partitions === undefined) return all;
    const wanted = new Set(partitions.map((tp) => tpKey(tp.topic, tp.partition)));
    return all.filter((s) => wanted.has(tpKey(s.topic, s.partition)));
  }

  add(state: PartitionState): void {
    this.states.set(tpKey(state.topic, state.partition), state);
  }

  /** Forget a revoked partition (unless it was replaced meanwhile). */
  release(state: PartitionState): void {
    if (this.states.get(tpKey(state.topic, state.partition)) === state) this.states.delete(tpKey(state.topic, state.partition));
  }

  /** Stop every partition's emission and fetch loop and forget them, without a revoke (kill()). */
  abandonAll(): void {
    for (const state of this.states.values()) {
      state.stopped = true;
      state.emitting = false;
      state.signal();
    }
    this.states.clear();
  }

  /** The seek asked for before the partition was assigned, if any (taken: it applies once). */
  takePendingSeek(topic: string, partition: number): bigint | undefined {
    const key = tpKey(topic, partition);
    const seek = this.pendingSeeks.get(key);
    this.pendingSeeks.delete(key);
    return seek;
  }

  isPaused(topic: string, partition: number): boolean {
    return this.pausedKeys.has(tpKey(topic, partition));
  }

  /** See Consumer.seek. */
  seek(topic: string, partition: number, offset: bigint): void {
    if (typeof offset !== 'bigint' || offset < 0n) throw new ConfigError('offset', `expected a bigint ≥ 0, got ${String(offset)}`);
    const state = this.get(topic, partition);
    if (state === undefined || state.stopped) {
      this.pendingSeeks.set(tpKey(topic, partition), offset);
      return;
    }
    state.restart(offset);
    state.rewindFailed = false;
    state.signal();
  }

  pause(topic: string, partition: number): void {
    this.pausedKeys.add(tpKey(topic, partition));
    const state = this.get(topic, partition);
    if (state) state.paused = true;
  }

  resume(topic: string, partition: number): void {
    this.pausedKeys.delete(tpKey(topic, partition));
    const state = this.get(topic, partition);
    if (state) {
      state.paused = false;
      state.signal();
    }
  }

  paused(): TopicPartition[] {
    return this.all().filter((s) => s.paused && !s.stopped).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** The held records of the owned partitions (health.held), by partition then offset. */
  held(): HeldRecord[] {
    const out: HeldRecord[] = [];
    for (const s of this.states.values()) {
      if (s.stopped || s.holds.size === 0) continue;
      for (const [offset, hold] of s.holds) out.push({ topic: s.topic, partition: s.partition, offset, ...hold });
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0)));
  }

  /** See Consumer.deliveredOffsets. */
  deliveredOffsets(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const state of this.states.values()) {
      if (state.delivered !== undefined && !state.stopped) out.push({ topic: state.topic, partition: state.partition, offset: state.delivered });
    }
    return out;
  }
}
