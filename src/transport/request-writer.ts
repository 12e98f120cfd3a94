/**
 * What one Connection writes to its socket, and when. Write coalescing (WriteBatcher): request
 * frames queued in the same tick (or within `writeLingerUs`) leave in one corked socket write, or
 * as soon as `maxWriteBatch` are queued. Quick-ACK pings (QuickAckPinger, the `quickAck` option):
 * rivvend 0.0.22 writes a reply in two parts without TCP_NODELAY, so the second part waits for our
 * ACK of the first, which the kernel delays ~40 ms when we have nothing to send; a Ping written
 * after a received chunk carries that ACK at once, and is skipped when a coalesced write has just
 * carried it. One file because both decide when bytes leave for the socket, each with its own
 * timer and state the request path need not know about; which reply belongs to which request is
 * correlation.ts's.
 */
import type { Socket } from 'node:net';
import { encodeRequestFrame } from '../protocol/frame.js';

// ---- Write coalescing -------------------------------------------------------------------------

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

// ---- Quick-ACK pings --------------------------------------------------------------------------

/** Pings in flight at most: a bound on what the workaround may cost a connection. */
const MAX_OUTSTANDING_PINGS = 8;

export interface QuickAckHost {
  socket(): Socket | undefined;
  /** A request waits for its reply (otherwise no ACK is worth a ping). */
  awaitingReply(): boolean;
  /** The connection is ready and not holding requests back (re-authentication wants it to itself). */
  mayPing(): boolean;
  nextCorrelationId(): number;
}

export class QuickAckPinger {
  /** Correlation ids of quick-ACK pings in flight (their replies are dropped). */
  private readonly pings = new Set<number>();
  private wroteSinceData = false;
  private checkScheduled = false;

  constructor(
    private readonly enabled: boolean,
    private readonly host: QuickAckHost,
  ) {}

  /** The id belongs to a ping in flight. */
  owns(correlationId: number): boolean {
    return this.pings.has(correlationId);
  }

  /** True if this reply answers one of our pings (it is then dropped, not dispatched). */
  takeReply(correlationId: number): boolean {
    return this.pings.delete(correlationId);
  }

  /** Something was written: its packet carries the ACK, no ping needed this round. */
  noteWrite(): void {
    this.wroteSinceData = true;
  }

  /**
   * After a chunk arrives: if a request still waits for its reply and, once this tick's own writes
   * are done, nothing was written since, send a Ping so the kernel ACKs now.
   */
  afterChunk(): void {
    if (!this.enabled || this.checkScheduled) return;
    this.wroteSinceData = false;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      const socket = this.host.socket();
      if (this.wroteSinceData || !this.host.awaitingReply() || this.pings.size >= MAX_OUTSTANDING_PINGS) return;
      if (!this.host.mayPing() || !socket || socket.destroyed) return;
      const id = this.host.nextCorrelationId();
      this.pings.add(id);
      socket.write(encodeRequestFrame({ type: 'Ping' }, id));
    });
  }
}
