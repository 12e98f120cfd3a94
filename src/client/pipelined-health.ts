/**
 * What `PipelinedClient.health()` and `health$` report: the pipeline's counters, the in-flight
 * limiter's waits, and the connections' traffic (the ones replaced included). One such file per
 * component (resilient-health.ts, producer/producer-health.ts, consumer/consumer-health.ts);
 * `Client`'s smaller health is in client.ts.
 */
import type { HealthError } from '../errors.js';
import type { ConnectionState, ConnectionStats } from '../transport/connection-types.js';
import type { LimiterStats } from './in-flight-limiter.js';

/** What `PipelinedClient.health()` returns and `health$` emits. */
export interface PipelinedClientHealth {
  /**
   * The connection's state: `ready`; `failed` once it broke and no request needs it yet;
   * `connecting` while a new one is being opened (backoff waits included); `closing`/`closed`.
   */
  state: ConnectionState;
  /** The server of the current connection (of `bootstrapServers`). */
  address: string;
  /** The client id sent in the handshake. */
  clientId: string;
  /** Requests handed to the connection (sent or being written). */
  requestsSent: number;
  /** Answered with anything but a broker error. */
  requestsCompleted: number;
  /** Failed: broker error replies, connection failures, timeouts. */
  requestsFailed: number;
  /** Of the failed, those that timed out. */
  requestsTimedOut: number;
  /** Given up by the caller (unsubscribed) before a reply. */
  requestsCancelled: number;
  /** Holding an in-flight slot now (≤ maxInFlight): awaiting a reply, or a new connection. */
  inFlight: number;
  /** Of those in flight, the ones waiting for a new connection (not sent yet). */
  awaitingConnection: number;
  /** Waiting for an in-flight slot now. */
  queued: number;
  /** The `maxInFlight` option: most requests holding a slot at once. */
  maxInFlight: number;
  /** The most requests in flight at once so far. */
  peakInFlight: number;
  /** The most requests waiting for a slot at once so far. */
  peakQueued: number;
  /** Requests that had to wait for a slot. */
  requestsWaited: number;
  /** How long those requests waited for a slot on average, ms. */
  averageQueueWaitMs: number;
  /** The longest any request waited for a slot, ms. */
  maxQueueWaitMs: number;
  /** completed / (completed + failed); 1 before anything finished. */
  successRate: number;
  /** Connections that broke under this client. */
  connectionsLost: number;
  /** New connections opened to replace a broken one. */
  reconnects: number;
  /** Rounds over the servers that found none to replace it (each followed by a backoff wait). */
  reconnectFailures: number;
  /** The latest connection or request failure (code, message, epoch ms); never a secret. */
  lastError: HealthError | undefined;
  /** Socket writes (all connections). */
  batchesWritten: number;
  /** Request frames those writes carried. */
  framesWritten: number;
  /** Requests per socket write: framesWritten / batchesWritten. */
  averageBatchSize: number;
  /** Bytes written (all connections). */
  bytesOut: number;
  /** Bytes read (all connections). */
  bytesIn: number;
  /** Median reply latency on the current connection, ms. */
  latencyP50Ms: number | undefined;
  /** 99th percentile reply latency on the current connection, ms. */
  latencyP99Ms: number | undefined;
}

export interface PipelineCounters {
  sent: number;
  completed: number;
  failed: number;
  timedOut: number;
  cancelled: number;
  connectionsLost: number;
  reconnects: number;
  reconnectFailures: number;
}

/** Totals of the connections a client replaced (their counters end with them). */
export interface RetiredTotals {
  batchesWritten: number;
  framesWritten: number;
  bytesOut: number;
  bytesIn: number;
}

export interface HealthSources {
  state: ConnectionState;
  address: string;
  clientId: string;
  maxInFlight: number;
  counters: Readonly<PipelineCounters>;
  awaitingConnection: number;
  limiter: LimiterStats;
  connection: ConnectionStats;
  retired: Readonly<RetiredTotals>;
  connectError: PipelinedClientHealth['lastError'];
}

export function pipelinedHealth(s: HealthSources): PipelinedClientHealth {
  const { counters, limiter: l, connection: c, retired: r } = s;
  const finished = counters.completed + counters.failed;
  const batchesWritten = r.batchesWritten + c.batchesWritten;
  const framesWritten = r.framesWritten + c.framesWritten;
  const lastError = s.connectError !== undefined && (c.lastError === undefined || s.connectError.at >= c.lastError.at) ? s.connectError : c.lastError;
  return {
    state: s.state,
    address: s.address,
    clientId: s.clientId,
    requestsSent: counters.sent,
    requestsCompleted: counters.completed,
    requestsFailed: counters.failed,
    requestsTimedOut: counters.timedOut,
    requestsCancelled: counters.cancelled,
    inFlight: l.active,
    awaitingConnection: s.awaitingConnection,
    queued: l.queued,
    maxInFlight: s.maxInFlight,
    peakInFlight: l.peakActive,
    peakQueued: l.peakQueued,
    requestsWaited: l.waited,
    averageQueueWaitMs: l.waited === 0 ? 0 : l.totalWaitMs / l.waited,
    maxQueueWaitMs: l.maxWaitMs,
    successRate: finished === 0 ? 1 : counters.completed / finished,
    connectionsLost: counters.connectionsLost,
    reconnects: counters.reconnects,
    reconnectFailures: counters.reconnectFailures,
    lastError,
    batchesWritten,
    framesWritten,
    averageBatchSize: batchesWritten === 0 ? 0 : framesWritten / batchesWritten,
    bytesOut: r.bytesOut + c.bytesOut,
    bytesIn: r.bytesIn + c.bytesIn,
    latencyP50Ms: c.latencyP50Ms,
    latencyP99Ms: c.latencyP99Ms,
  };
}
