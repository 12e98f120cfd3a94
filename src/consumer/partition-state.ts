/**
 * One owned partition of a Consumer: where it fetches, what it emitted in the current epoch, what
 * downstream acknowledged and committed, the fetch credit that follows from that, and the decoded
 * bytes it holds against the consumer's in-flight budget.
 *
 * Epochs: an assignment, a seek or a rewind starts a new epoch; records fetched or emitted in an
 * earlier one are stale (dropped before emission, their acks ignored). Within an epoch offsets
 * only move forward: nothing is emitted at or below an offset already emitted (see fetch-loop.ts).
 */
import type { ErrorSummary } from '../errors.js';
import type { DecodedBudget } from './decoded-budget.js';

/** Why downstream cannot acknowledge a record yet (ReceiverOffset.holdBecause). */
export interface Hold {
  readonly reason: string;
  readonly error: ErrorSummary | undefined;
  /** Scheduler time of the first holdBecause. */
  readonly since: number;
}

/** The coordination connection, or fetch lane n. */
export type ClientKind = 'coordinator' | `fetch-${number}`;

export class PartitionState {
  /** Next offset to fetch (everything before it was emitted). */
  position: bigint;
  /** Offset credit is counted from (the assignment or the last seek). */
  epochStart: bigint;
  /**
   * End of what was emitted (last emitted offset + 1) in this epoch. Can lag `position`, which also
   * steps over records the broker does not show (transaction markers, aborted records under
   * read_committed): those are never emitted, so they must not count as unacknowledged.
   */
  emittedEnd: bigint;
  epoch = 0;
  /** Next offset to commit (highest acknowledged + 1) in this epoch. */
  acked: bigint | undefined;
  committed: bigint | undefined;
  paused = false;
  /** Next offset after the last record emitted downstream in this epoch (deliveredOffsets()). */
  delivered: bigint | undefined;
  /** rewindToCommitted$ calls under way: nothing is fetched or emitted meanwhile. */
  rewinds = 0;
  /** A rewind could not read the committed offset: hold the partition until a rewind or seek succeeds. */
  rewindFailed = false;
  /** No more emission (a revoke is under way). */
  emitting = true;
  /** Revoked: acks ignored, loop ends. */
  stopped = false;
  wake: (() => void) | undefined;
  /** Fetch connection ('fetch-<lane>') this partition's requests go over. */
  lane: ClientKind = 'fetch-0';
  /** Long-poll wait: fetchMaxWaitMs shared by the partitions of the lane (see assignPartitions). */
  maxWaitMs = 0;
  /** Scheduler time since which the partition waits for acknowledgements (no fetch credit), if it does. */
  waitingSince: number | undefined;
  /** Scheduler time of the last acknowledgement that moved this partition's acknowledged offset forward, if any. */
  lastAckAt: number | undefined;
  /**
   * Records of this epoch downstream said it cannot acknowledge yet, by offset (health$.held): gone
   * once acknowledgements pass them, and with the epoch.
   */
  readonly holds = new Map<bigint, Hold>();
  /** Decoded bytes of emitted, unacknowledged batches: [end offset (exclusive), bytes], oldest first. */
  private readonly held_: [bigint, number][] = [];
  private heldBytes = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    position: bigint,
    committed: bigint | undefined,
    private readonly budget?: DecodedBudget,
  ) {
    this.position = position;
    this.epochStart = position;
    this.emittedEnd = position;
    this.committed = committed;
  }

  /** Fetching is on hold (paused, or a rewind is under way or failed). */
  held(): boolean {
    return this.paused || this.rewinds > 0 || this.rewindFailed;
  }

  /** Start a new epoch at `offset`: records fetched or emitted before are stale (dropped, their acks ignored). */
  restart(offset: bigint): void {
    this.position = offset;
    this.epochStart = offset;
    this.emittedEnd = offset;
    this.epoch++;
    this.acked = undefined;
    this.delivered = undefined;
    this.holds.clear();
    this.releaseAll();
  }

  /** Everything before `next` is acknowledged: its holds are over. Whether there were any. */
  releaseHoldsBelow(next: bigint): boolean {
    let released = false;
    for (const offset of this.holds.keys()) {
      if (offset < next) {
        this.holds.delete(offset);
        released = true;
      }
    }
    return released;
  }

  /** Records emitted and not acknowledged (by offset span). */
  outstanding(): bigint {
    const floor = this.acked ?? this.epochStart;
    return this.emittedEnd > floor ? this.emittedEnd - floor : 0n;
  }

  /** A batch ending before `end` was emitted with `bytes` decoded bytes. */
  hold(end: bigint, bytes: number): void {
    if (bytes <= 0) return;
    this.held_.push([end, bytes]);
    this.heldBytes += bytes;
    this.budget?.take(bytes);
  }

  /** Everything before `next` is acknowledged: give back the bytes of the batches it covers. */
  releaseUpTo(next: bigint): void {
    let freed = 0;
    while (this.held_.length > 0 && this.held_[0]![0] <= next) freed += this.held_.shift()![1];
    this.heldBytes -= freed;
    this.budget?.release(freed);
  }

  /** The partition is revoked or restarted: its emitted batches no longer count. */
  releaseAll(): void {
    const freed = this.heldBytes;
    this.held_.length = 0;
    this.heldBytes = 0;
    this.budget?.release(freed);
  }

  signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

export function isLive(state: PartitionState, epoch: number): boolean {
  return state.epoch === epoch && state.emitting && !state.stopped && state.rewinds === 0;
}
