/**
 * What a decoded reply means for one Connection: it completes its request, is the expected late
 * reply of a cancelled one, or is a protocol violation (unknown id, wrong type, impossible value,
 * undecodable) that fails its request and resets the connection. Apart from the request table
 * (plain bookkeeping) and the reader (bytes to replies) because this is the policy towards a
 * broken or hostile peer, and it reads best in one place.
 */
import type { Subject } from 'rxjs';
import { ConnectionError, ProtocolError, type RivvenError } from '../errors.js';
import { responseViolation } from '../protocol/response-expectations.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { PendingRequests } from './connection-pending.js';
import type { RequestCounters } from './connection-stats.js';
import type { ConnectionState, ResponseFrame } from './connection-types.js';

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
