/**
 * Which bootstrap server to use next: the one failover rule of every component. It holds the
 * bootstrap list with a circuit breaker per server and picks servers; it keeps no connection.
 * Connections are kept by their users: pinned-lanes.ts (the producer's and the consumer's lanes),
 * connection-pool.ts (the ResilientClient's pool per server; its per-server record is
 * resilient-server.ts), Client and PipelinedClient (their one connection).
 *
 * Each server has a circuit breaker (circuit-breaker.ts). A server whose breaker is open is passed
 * over while another one admits a request, so a dead first server costs one attempt per breaker
 * period, not one per reconnect or request. Two ways to use it:
 *  - `admit(start)` (ResilientClient, per request): the next server from `start` whose breaker
 *    lets a request through, or none — then the caller fails fast with `unavailable()`.
 *  - `connectToAny` (Client, PipelinedClient, the producer's and consumer's lanes, per
 *    connection): every server once, from the one that worked last; servers whose breaker refuses
 *    are tried last rather than never, because a connection that is wanted now is worth an attempt
 *    (the caller's jittered backoff bounds how often it asks).
 */
import { AllServersUnavailableError, RivvenError, isRetriable } from '../errors.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitPermit } from './circuit-breaker.js';

/** Breaker settings of the lanes (producer, consumer, Client): open after 3 failures in a row, probe after 1 s, at most every 30 s. */
export const LANE_BREAKER: CircuitBreakerOptions = { failureThreshold: 3, recoveryTimeout: 30_000, initialRecoveryTimeout: 1_000 };

export interface RotationServer {
  /** As given in `bootstrapServers`. */
  readonly address: string;
  readonly breaker: CircuitBreaker;
}

export class ServerRotation {
  readonly servers: readonly RotationServer[];
  /** The server that answered last: where the next `connectToAny` starts. */
  private preferredIndex = 0;
  private cursor = 0;

  constructor(addresses: readonly string[], breaker: CircuitBreakerOptions = LANE_BREAKER) {
    this.servers = addresses.map((address) => ({ address, breaker: new CircuitBreaker(breaker) }));
  }

  get size(): number {
    return this.servers.length;
  }

  get preferred(): number {
    return this.preferredIndex;
  }

  /** Round-robin start: each call starts one server further. */
  nextStart(): number {
    const start = this.cursor;
    this.cursor = (this.cursor + 1) % this.servers.length;
    return start;
  }

  /** The first server from `start` on whose breaker admits a request now, with its permit. */
  admit(start: number): { index: number; permit: CircuitPermit } | undefined {
    const n = this.servers.length;
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const permit = this.servers[index]!.breaker.tryAcquire();
      if (permit !== undefined) return { index, permit };
    }
    return undefined;
  }

  /** A server answered: connections start there from now on. */
  answered(index: number): void {
    this.preferredIndex = index;
  }

  /**
   * A connection to the server broke after it was open (reset, broker gone): its breaker counts
   * a failure, and if connections started there, they start at the next server from now on.
   */
  broke(index: number): void {
    this.servers[index]?.breaker.recordFailure();
    if (this.preferredIndex === index) this.preferredIndex = (index + 1) % this.servers.length;
  }

  /** Stop every breaker's recovery timer (nothing of the rotation keeps the process alive after). */
  dispose(): void {
    for (const server of this.servers) server.breaker.dispose();
  }
}

/**
 * Open a connection to the first server that answers: each server once, from the one that answered
 * last, those whose breaker refuses at the end. An error that would be the same on every server
 * (`retriable === false`: credentials, TLS, a bad option) stops at once and is thrown as it is.
 * When none answers: `AllServersUnavailableError` (retriable) naming each server's error, the last
 * one as its cause.
 */
export async function connectToAny<T>(rotation: ServerRotation, open: (address: string) => Promise<T>): Promise<{ value: T; index: number }> {
  const n = rotation.size;
  const refused: number[] = [];
  const errors: string[] = [];
  let lastError: unknown;
  const attempt = async (index: number, permit: CircuitPermit | undefined): Promise<{ value: T; index: number } | undefined> => {
    const server = rotation.servers[index]!;
    try {
      const value = await open(server.address);
      if (permit === undefined) server.breaker.recordSuccess();
      else permit.success();
      rotation.answered(index);
      return { value, index };
    } catch (error) {
      // A refusal (credentials, TLS, an incompatible broker) is final; only no answer tries the next server.
      if (error instanceof RivvenError && !isRetriable(error)) {
        permit?.release();
        throw error;
      }
      if (permit === undefined) server.breaker.recordFailure();
      else permit.failure();
      lastError = error;
      errors.push(`${server.address}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };
  for (let i = 0; i < n; i++) {
    const index = (rotation.preferred + i) % n;
    const permit = rotation.servers[index]!.breaker.tryAcquire();
    if (permit === undefined) {
      refused.push(index);
      continue;
    }
    const connected = await attempt(index, permit);
    if (connected !== undefined) return connected;
  }
  for (const index of refused) {
    const connected = await attempt(index, undefined);
    if (connected !== undefined) return connected;
  }
  // Start the next round after the server that failed first, not at it again.
  if (n > 1) rotation.answered((rotation.preferred + 1) % n);
  throw new AllServersUnavailableError(
    `no server of bootstrapServers answered (${errors.join('; ')}); check that the brokers are running and reachable`,
    lastError === undefined ? undefined : { cause: lastError },
  );
}
