/**
 * The producer's `bufferMemory`: bytes of records waiting or in flight. Reservations past the
 * budget wait, first come first served, until bytes are released — the producer never buffers
 * without bound and never drops.
 */
export class MemoryBudget {
  private used = 0;
  /** Bytes of the reservations waiting for room. */
  private waitingBytes_ = 0;
  private readonly waiters: { bytes: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Bytes of the reservations waiting for room. */
  get waitingBytes(): number {
    return this.waitingBytes_;
  }

  /** Whether `bytes` could be reserved now (room, and nobody queued ahead). */
  hasRoomFor(bytes: number): boolean {
    return this.waiters.length === 0 && this.used + bytes <= this.capacity;
  }

  /** Reserve now if there is room and nobody is queued ahead; else undefined. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length === 0 && this.used + bytes <= this.capacity) {
      this.used += bytes;
      return true;
    }
    return false;
  }

  /** Queue for room; returns a cancel function. `grant` runs once the bytes are reserved. */
  wait(bytes: number, grant: () => void): () => void {
    const waiter = { bytes, grant };
    this.waiters.push(waiter);
    this.waitingBytes_ += bytes;
    this.drain();
    return () => {
      const at = this.waiters.indexOf(waiter);
      if (at >= 0) {
        this.waiters.splice(at, 1);
        this.waitingBytes_ -= bytes;
      }
      this.drain();
    };
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.drain();
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.capacity) {
      const next = this.waiters.shift()!;
      this.waitingBytes_ -= next.bytes;
      this.used += next.bytes;
      next.grant();
    }
  }
}
