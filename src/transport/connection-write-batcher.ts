/**
 * Write coalescing for one Connection: frames queued in the same tick (or within `writeLingerUs`)
 * leave in one corked socket write, or as soon as `maxWriteBatch` are queued. Apart from the
 * request table because when bytes reach the socket is a separate concern from which reply
 * belongs to which request, with its own timer and counters.
 */
import type { Socket } from 'node:net';

export class WriteBatcher {
  private queue: Buffer[] = [];
  private flushScheduled = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Socket writes issued (each carries one or more frames). */
  batchesWritten = 0;
  framesWritten = 0;

  constructor(
    private readonly socket: () => Socket | undefined,
    private readonly writeLingerUs: number,
    private readonly maxWriteBatch: number,
    /** Told of every socket write (the quick-ACK pinger need not ping after one). */
    private readonly onWrite: () => void,
  ) {}

  enqueue(frame: Buffer): void {
    this.queue.push(frame);
    if (this.queue.length >= this.maxWriteBatch) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.writeLingerUs > 0) {
        this.lingerTimer = setTimeout(() => this.flush(), Math.ceil(this.writeLingerUs / 1000));
      } else {
        process.nextTick(() => this.flush());
      }
    }
  }

  /** The connection failed: queued frames will never be written, and no timer may fire later. */
  discard(): void {
    this.queue = [];
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const socket = this.socket();
    const frames = this.queue;
    this.queue = [];
    if (!socket || socket.destroyed || frames.length === 0) return;
    this.batchesWritten++;
    this.framesWritten += frames.length;
    this.onWrite();
    // Corked writes leave as one writev: one syscall for everything issued this tick, no copying.
    socket.cork();
    for (const frame of frames) socket.write(frame);
    socket.uncork();
  }
}
