/**
 * The request counters of one Connection: requests sent, answered, failed and timed out, bytes
 * written, reply latencies and the last error, which `Connection.stats()` reports and health
 * streams sample. Apart from the Connection so the request path, reply dispatch and timeouts
 * count through one object, and every change ticks the stats stream the same way.
 */
import type { RivvenError } from '../errors.js';
import type { Response } from '../protocol/response-schema.js';
import type { ConnectionStats } from './connection-types.js';
import { LatencyTracker } from './latency-tracker.js';

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
