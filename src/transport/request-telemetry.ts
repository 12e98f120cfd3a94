/**
 * What a Connection tells observers about its requests: the counters (sent, answered, failed,
 * timed out, bytes written, the last error) and reply latencies that `Connection.stats()` reports
 * and health streams sample, and the `rivven-rx:request` trace of each request (started when its
 * frame is queued, ended with the request whichever way it ends, and costing one `isTraced` check
 * when nobody listens). The latency ring (LatencyTracker) also serves the ResilientClient's
 * per-server latencies. One file because counting and tracing requests is one concern, kept off
 * the request path so the request path, reply dispatch and timeouts all report the same way.
 */
import type { RivvenError } from '../errors.js';
import { Trace, isTraced, requestChannel, type RequestTraceMessage } from '../observability/channels.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { ConnectionStats, RequestSubscriber } from './connection-types.js';

// ---- Latencies and counters -------------------------------------------------------------------

/** Recent request latencies in a fixed ring, for p50/p99 without unbounded memory. */
export class LatencyTracker {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;

  constructor(capacity = 1024) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  /** The q-quantile (0..1) of the recent samples, or undefined if there are none. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[rank];
  }
}

export class RequestCounters {
  requestsSent = 0;
  requestsSucceeded = 0;
  requestsFailed = 0;
  requestsTimedOut = 0;
  bytesOut = 0;
  lastError: ConnectionStats['lastError'];
  private readonly latencies = new LatencyTracker();

  /** `changed`: ticks the connection's stats stream. */
  constructor(private readonly changed: () => void) {}

  sent(bytes: number): void {
    this.requestsSent++;
    this.bytesOut += bytes;
  }

  /** A reply reached its request, `sentAt` (performance.now()) after it was queued. */
  replied(response: Response, sentAt: number): void {
    this.latencies.record(performance.now() - sentAt);
    if (response.type === 'Error') {
      this.requestsFailed++;
    } else {
      this.requestsSucceeded++;
    }
  }

  noteError(error: RivvenError): void {
    this.lastError = { code: error.code, message: error.message, at: Date.now() };
    this.changed();
  }

  latencyMs(quantile: number): number | undefined {
    return this.latencies.quantile(quantile);
  }
}

// ---- Traces -----------------------------------------------------------------------------------

/** A trace for a request about to be sent, or undefined when nobody listens on the channel. */
export function startRequestTrace(
  requestType: string,
  broker: BrokerAddress,
  correlationId: number,
  bytesOut: number,
): Trace<RequestTraceMessage> | undefined {
  // The address is formatted only for a listener: an untraced request allocates nothing here.
  return isTraced(requestChannel)
    ? new Trace(requestChannel, { requestType, broker: formatAddress(broker), correlationId, bytesOut })
    : undefined;
}

/** The subscriber of a traced request: the trace ends with the request, whichever way it ends. */
export function tracedSubscriber(subscriber: RequestSubscriber, trace: Trace<RequestTraceMessage>): RequestSubscriber {
  return {
    next: (response) => {
      trace.message.responseType = response.type;
      subscriber.next(response);
    },
    complete: () => {
      trace.finish();
      subscriber.complete();
    },
    error: (error) => {
      trace.fail(error);
      subscriber.error(error);
    },
  };
}
