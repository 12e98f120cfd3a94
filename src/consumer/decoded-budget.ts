/**
 * The consumer's budget for decoded (decompressed) value bytes that are emitted and not yet
 * acknowledged, over all partitions (`maxInFlightDecodedBytes`). What the broker claims does not
 * matter: a fetch decodes only what fits what is left (see fetch-loop.ts), and a partition whose
 * next value does not fit waits here until acknowledgements give bytes back.
 *
 * A file of its own although small: it is one budget shared by every partition (the consumer makes
 * it, each PartitionState takes and releases its bytes, each fetch loop asks what is left and
 * waits on it), so it belongs to none of them — as producer/memory-budget.ts is the producer's.
 */
export class DecodedBudget {
  private used = 0;
  private readonly waiters = new Set<() => void>();

  constructor(readonly limitBytes: number) {}

  /** Decoded bytes emitted and not acknowledged. */
  get inFlightBytes(): number {
    return this.used;
  }

  /** Bytes a fetch may decode now. */
  available(): number {
    return Math.max(0, this.limitBytes - this.used);
  }

  take(bytes: number): void {
    this.used += bytes;
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.used = Math.max(0, this.used - bytes);
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Call `wake` once, at the next release. Returns how to cancel. */
  onRelease(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }
}
