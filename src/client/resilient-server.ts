/**
 * One server of a ResilientClient: its circuit breaker (owned by the client's ServerRotation), its
 * connection pool, and the counters its health is built from.
 */
import { RivvenError } from '../errors.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import { LatencyTracker } from '../transport/latency-tracker.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { ConnectionPool } from './connection-pool.js';
import type { ConnectionFactory, ResolvedResilientConfig } from './resilient-config.js';
import type { HealthError, ServerHealth } from './resilient-health.js';

export class ResilientServer {
  readonly label: string;
  readonly pool: ConnectionPool;
  readonly latencies = new LatencyTracker(512);
  requests = 0;
  answered = 0;
  failures = 0;
  lastError: HealthError | undefined;
  lastHealthCheck: ServerHealth['lastHealthCheck'];

  constructor(
    readonly index: number,
    readonly address: BrokerAddress,
    readonly breaker: CircuitBreaker,
    config: ResolvedResilientConfig,
    factory: ConnectionFactory,
  ) {
    this.label = formatAddress(address);
    const connectionOptions = config.connection;
    this.pool = new ConnectionPool({
      address,
      maxSize: config.poolSizePerServer,
      maxLifetimeMs: config.maxConnectionLifetimeMs,
      idleTimeoutMs: config.idleTimeoutMs,
      scheduler: config.scheduler,
      connect: () => factory(address, connectionOptions),
    });
  }

  /** Note a failure that counts against this server (the breaker is told separately). */
  failed(error: unknown, at: number): void {
    this.failures++;
    this.noteError(error, at);
  }

  /** Note a failure seen on this server, counted or not (a TLS refusal says nothing about its health). */
  noteError(error: unknown, at: number): void {
    this.lastError = describeError(error, at);
  }
}

function describeError(error: unknown, at: number): HealthError {
  if (error instanceof RivvenError) return { code: error.code, message: error.message, at };
  return { code: 'UNKNOWN', message: error instanceof Error ? error.message : String(error), at };
}
