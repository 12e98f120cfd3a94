/**
 * What `ResilientClient.health$` emits: the whole picture, per server and in total, how it is
 * built from the servers (resilient-server.ts keeps their counters) and the call counters, and a
 * one-line formatter for dashboards and logs. One such file per component (pipelined-health.ts,
 * producer/producer-health.ts, consumer/consumer-health.ts).
 */
import type { HealthError } from '../errors.js';
import type { CircuitState } from './circuit-breaker.js';
import type { PoolSnapshot } from './connection-pool.js';

/** One server of a ResilientClient, as `health$` reports it. */
export interface ServerHealth {
  /** `host:port` as configured. */
  address: string;
  /** The server's circuit breaker state. */
  breaker: CircuitState;
  /** Failures since the last success (connect failures, broken connections, timeouts). */
  consecutiveFailures: number;
  /** When the circuit opened, if it is open (scheduler clock). */
  openedAt: number | undefined;
  /** When an open circuit will let its probe through (scheduler clock). */
  halfOpenAt: number | undefined;
  /** A Half-Open probe is out. */
  probeInFlight: boolean;
  /** Connections: size, connecting, idle, busy, retiring, in flight, and lifetime totals. */
  pool: PoolSnapshot;
  /** Request attempts routed to this server (health pings not included). */
  requests: number;
  /** Replies received from this server (broker error replies included: the server answered). */
  answered: number;
  /** Failures counted against this server: failed connects, broken connections, timeouts. */
  failures: number;
  /** The last failure seen on this server (including ones that do not count, like a TLS refusal). */
  lastError: HealthError | undefined;
  /** Round-trip latency of recent replies (requests and health pings), ms. */
  latencyP50Ms: number | undefined;
  /** 99th percentile round-trip latency of recent replies, ms. */
  latencyP99Ms: number | undefined;
  /** The last health-check ping. */
  lastHealthCheck:
    | {
        /** When it was sent (scheduler clock). */
        at: number;
        /** Whether the server answered. */
        ok: boolean;
        /** Its round trip, ms; undefined when it failed. */
        latencyMs: number | undefined;
      }
    | undefined;
}

/** What `ResilientClient.health$` emits: every server, and the client's call totals. */
export interface ResilientHealth {
  /** Each server, in the order of `bootstrapServers`. */
  servers: ServerHealth[];
  /** How many servers the client knows. */
  totalServers: number;
  /** Servers whose circuit is closed. */
  healthyServers: number;
  /** Calls made (one per subscription, however many attempts it took). */
  requests: number;
  /** Calls that succeeded. */
  successes: number;
  /** Calls that failed (after their retries). */
  failures: number;
  /** Extra attempts made after retriable failures. */
  retries: number;
  /** Calls in progress (including those waiting for a retry). */
  inFlight: number;
  /** successes / (successes + failures); 1 before anything finished. */
  successRate: number;
  /** Open connections across all servers, and how many of them are idle or busy. */
  connections: number;
  /** Open connections with no request in flight. */
  idleConnections: number;
  /** Open connections with requests in flight. */
  busyConnections: number;
  /** The client is closed; this is the last emission. */
  closed: boolean;
}

/** The client's call counters (one call however many attempts it took). */
export interface CallTotals {
  requests: number;
  successes: number;
  failures: number;
  retries: number;
  inFlight: number;
}

/** The snapshot `health()` returns and `health$` emits. `closed`: everything is closed, this is the last. */
export function buildHealth(servers: ServerHealth[], totals: Readonly<CallTotals>, closed: boolean): ResilientHealth {
  const finished = totals.successes + totals.failures;
  let connections = 0;
  let idle = 0;
  let busy = 0;
  for (const s of servers) {
    connections += s.pool.size - s.pool.connecting;
    idle += s.pool.idle;
    busy += s.pool.busy;
  }
  return {
    servers,
    totalServers: servers.length,
    healthyServers: servers.filter((s) => s.breaker === 'closed').length,
    ...totals,
    successRate: finished === 0 ? 1 : totals.successes / finished,
    connections,
    idleConnections: idle,
    busyConnections: busy,
    closed,
  };
}

const STATE_LABEL: Record<CircuitState, string> = { closed: 'CLOSED', open: 'OPEN', 'half-open': 'HALF-OPEN' };

function ms(value: number | undefined): string {
  return value === undefined ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(0);
}

/**
 * One line for dashboards and logs, e.g.
 * `[1/2 up] 10.0.0.1:9092 CLOSED conns 3 (2 busy, 1 idle) p50 0.42ms p99 1.9ms | 10.0.0.2:9092 OPEN
 * conns 0 fails 5 last CONNECTION || calls 120 ok 120 err 0 retries 7 (100.0% ok)`.
 */
export function formatHealth(health: ResilientHealth): string {
  const servers = health.servers.map((s) => {
    const open = s.pool.size - s.pool.connecting;
    const parts = [`${s.address} ${STATE_LABEL[s.breaker]}`, open === 0 ? 'conns 0' : `conns ${open} (${s.pool.busy} busy, ${s.pool.idle} idle)`];
    if (s.consecutiveFailures > 0) parts.push(`fails ${s.consecutiveFailures}`);
    if (s.latencyP50Ms !== undefined) parts.push(`p50 ${ms(s.latencyP50Ms)}ms p99 ${ms(s.latencyP99Ms)}ms`);
    if (s.breaker !== 'closed' && s.lastError) parts.push(`last ${s.lastError.code}`);
    return parts.join(' ');
  });
  const rate = (health.successRate * 100).toFixed(1);
  return (
    `[${health.healthyServers}/${health.totalServers} up] ` +
    servers.join(' | ') +
    ` || calls ${health.requests} ok ${health.successes} err ${health.failures} retries ${health.retries} (${rate}% ok)` +
    (health.closed ? ' CLOSED' : '')
  );
}
