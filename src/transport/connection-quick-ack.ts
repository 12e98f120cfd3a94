/**
 * The quick-ACK pinger of one Connection (the `quickAck` option): rivvend 0.0.22 writes a reply in
 * two parts without TCP_NODELAY, so the second part waits for our ACK of the first, which the
 * kernel delays ~40 ms when we have nothing to send. A Ping sent after a received chunk carries
 * that ACK at once. Apart from the Connection because it is a workaround for one broker's socket
 * settings, with its own ids and state, that the request path should not have to know about.
 */
import type { Socket } from 'node:net';
import { encodeRequestFrame } from '../protocol/frame.js';

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
