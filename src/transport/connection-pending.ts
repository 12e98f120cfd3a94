/**
 * The requests in flight on one Connection, by correlation id: handing out ids, remembering the
 * ids of cancelled requests (so their late replies are recognised and dropped, not taken for a
 * peer out of sync), and telling waiters when nothing is in flight any more. Apart from the
 * Connection so the bookkeeping that matches replies to requests has one owner and no I/O.
 */
import type { Trace, RequestTraceMessage } from '../observability/channels.js';
import type { Response } from '../protocol/response-schema.js';

/** Where a request's outcome goes: its reply (then completion), or its error. */
export interface RequestSubscriber {
  next(response: Response): void;
  complete(): void;
  error(error: unknown): void;
}

export interface PendingRequest {
  subscriber: RequestSubscriber;
  sentAt: number;
  type: string;
  /** The `rivven-rx:request` trace, only while someone listens on that channel. */
  trace?: Trace<RequestTraceMessage> | undefined;
}

/** Late replies of cancelled requests are recognised (and dropped) for this many ids. */
const CANCELLED_MEMORY = 65_536;

export class PendingRequests {
  private readonly inFlight = new Map<number, PendingRequest>();
  private readonly cancelled = new Set<number>();
  private lastCorrelationId = 0;
  private drainWaiters: (() => void)[] = [];

  /** `inUseElsewhere`: ids taken by frames that are not requests of this table (quick-ACK pings). */
  constructor(private readonly inUseElsewhere: (correlationId: number) => boolean) {}

  get size(): number {
    return this.inFlight.size;
  }

  get(correlationId: number): PendingRequest | undefined {
    return this.inFlight.get(correlationId);
  }

  nextCorrelationId(): number {
    // u32, wrapping; skip ids still in flight (after 4 billion requests on one connection).
    do {
      this.lastCorrelationId = this.lastCorrelationId >= 0xffff_ffff ? 1 : this.lastCorrelationId + 1;
    } while (this.inFlight.has(this.lastCorrelationId) || this.inUseElsewhere(this.lastCorrelationId));
    return this.lastCorrelationId;
  }

  add(correlationId: number, request: PendingRequest): void {
    // A reused id belongs to the new request now, not to a cancelled one from 4 billion ids ago.
    this.cancelled.delete(correlationId);
    this.inFlight.set(correlationId, request);
  }

  /** Remove and return the request (its reply arrived, or it failed on its own). */
  take(correlationId: number): PendingRequest | undefined {
    const request = this.inFlight.get(correlationId);
    if (request !== undefined) this.inFlight.delete(correlationId);
    return request;
  }

  /** Remove and return every request in flight (they all fail together). */
  takeAll(): PendingRequest[] {
    const requests = [...this.inFlight.values()];
    this.inFlight.clear();
    return requests;
  }

  /** The caller gave up on the request; false if it was no longer in flight. */
  cancel(correlationId: number): boolean {
    if (!this.inFlight.delete(correlationId)) return false;
    this.cancelled.add(correlationId);
    if (this.cancelled.size > CANCELLED_MEMORY) {
      const oldest = this.cancelled.values().next().value;
      if (oldest !== undefined) this.cancelled.delete(oldest);
    }
    return true;
  }

  /** True (once) if `correlationId` was a cancelled request: its reply is expected and dropped. */
  forgetCancelled(correlationId: number): boolean {
    return this.cancelled.delete(correlationId);
  }

  /** Resolves when nothing is in flight, or after `maxMs` whatever is left. */
  waitForDrain(maxMs: number): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.drainWaiters.push(done);
    });
  }

  /** Wake the drain waiters if nothing is in flight; called wherever a request leaves the table. */
  resolveDrainIfIdle(): void {
    if (this.inFlight.size > 0 || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
