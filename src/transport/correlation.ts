/**
 * Correlation: the requests in flight on one Connection, by correlation id, and what each reply
 * means for them. The table (PendingRequests) hands out ids, remembers the ids of cancelled
 * requests (so their late replies are recognised and dropped, not taken for a peer out of sync),
 * and tells waiters when nothing is in flight any more. The dispatcher (ReplyDispatcher) hands a
 * decoded reply to its request, or treats it as the protocol violation it is (unknown id, wrong
 * type, impossible value, undecodable): that request fails and the connection is reset, the
 * policy towards a broken or hostile peer in one place. One file because matching replies to
 * requests is one job; it does no I/O (bytes to replies is reply-reader.ts's, writes are
 * request-writer.ts's).
 */
import type { Subject } from 'rxjs';
import { ConnectionError, ProtocolError, type RivvenError } from '../errors.js';
import type { Trace, RequestTraceMessage } from '../observability/channels.js';
import { responseViolation } from '../protocol/response-expectations.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { ConnectionState, RequestSubscriber, ResponseFrame } from './connection-types.js';
import type { RequestCounters } from './request-telemetry.js';

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

// ---- What a reply means -----------------------------------------------------------------------

export interface ReplyDispatchHost {
  state(): ConnectionState;
  /** The connection is unusable: everything else in flight fails, the socket is released. */
  fail(error: RivvenError): void;
  statsChanged(): void;
}

export class ReplyDispatcher {
  constructor(
    private readonly address: BrokerAddress,
    private readonly pending: PendingRequests,
    private readonly counters: RequestCounters,
    /** Every reply, including those to cancelled requests (`Connection.responses$`). */
    private readonly responses: Subject<ResponseFrame>,
    private readonly host: ReplyDispatchHost,
  ) {}

  /** Hand a decoded reply to its request. False if the connection failed on it (stop reading). */
  dispatch(correlationId: number, response: Response, bytesIn: number): boolean {
    const entry = this.pending.get(correlationId);
    if (entry === undefined) {
      if (this.pending.forgetCancelled(correlationId)) {
        this.responses.next({ correlationId, response });
        return true; // reply to a request the caller gave up on: dropped by design
      }
      // close() already failed what it stopped waiting for: a reply to one of those is late, not out of sync.
      if (this.host.state() === 'closing') return true;
      this.host.fail(
        new ProtocolError(`reply with unknown correlation id ${correlationId} from ${formatAddress(this.address)}; the connection is out of sync`),
      );
      return false;
    }
    // Here, where the entry is in hand anyway: the frame loop does no extra lookup per reply.
    if (entry.trace !== undefined) entry.trace.message.bytesIn = bytesIn;
    const violation = responseViolation(entry.type, response);
    if (violation !== undefined) {
      this.violation(
        correlationId,
        new ProtocolError(
          `protocol violation by ${formatAddress(this.address)}: ${violation}; the connection is closed (a ResilientClient's pool replaces it and counts the failure against this broker)`,
        ),
      );
      return false;
    }
    this.pending.take(correlationId);
    this.counters.replied(response, entry.sentAt);
    this.responses.next({ correlationId, response });
    entry.subscriber.next(response);
    entry.subscriber.complete();
    this.host.statsChanged();
    this.pending.resolveDrainIfIdle();
    return true;
  }

  undecodable(correlationId: number, error: unknown, bytesIn: number): void {
    const trace = this.pending.get(correlationId)?.trace;
    if (trace !== undefined) trace.message.bytesIn = bytesIn;
    this.violation(
      correlationId,
      new ProtocolError(`undecodable reply from ${formatAddress(this.address)}: ${(error as Error).message}`, { cause: error }),
    );
  }

  /** Every request in flight fails with `error` (the connection failed or closed). */
  failAll(error: RivvenError): void {
    if (this.pending.size === 0) return;
    const entries = this.pending.takeAll();
    this.counters.requestsFailed += entries.length;
    this.counters.noteError(error);
    for (const entry of entries) entry.subscriber.error(error);
  }

  /**
   * The peer broke the protocol in its reply to `correlationId`: that request fails with `error`,
   * the connection is closed, and everything else in flight fails with a (retriable)
   * ConnectionError — those requests did nothing wrong, and a fresh connection may serve them.
   */
  private violation(correlationId: number, error: ProtocolError): void {
    const entry = this.pending.take(correlationId);
    if (entry !== undefined) {
      this.counters.requestsFailed++;
      this.counters.noteError(error);
      entry.subscriber.error(error);
    }
    this.host.fail(entry === undefined ? error : new ConnectionError(`connection to ${formatAddress(this.address)} reset: ${error.message}`, { cause: error }));
  }
}
