/**
 * Kept membership: group requests that keep a member's id and generation through a dropped
 * coordinator connection — repeated, as the same member, over a new connection — instead of
 * starting the round over (which would rebalance the whole group on rivvend).
 *
 * Its neighbours: group-watch.ts holds what *ends* a generation (the heartbeat loop's rejoin
 * reasons, our own watches); group-join.ts the join/sync exchange of a round; this file only how
 * each of their requests reaches the coordinator. group-coordinator.ts makes one per round (for
 * the round and the generation it forms).
 */
import { type Observable, concatMap, defer, from, retry, tap, throwError, timer } from 'rxjs';
import type { Client } from '../client/client.js';
import type { Retrier } from '../client/retrier.js';
import { ConnectionError, RivvenTimeoutError, isUnreachable } from '../errors.js';

/** What kept membership needs (group-coordinator.ts gives it the consumer's coordinator lane). */
export interface KeptMembershipHost {
  /** The coordination connection; a failed one is never handed out again (client/pinned-lanes.ts), so this reconnects. */
  coordinator(): Promise<Client>;
  /** Forget the coordination connection (a timeout left it in doubt). */
  dropCoordinator(): void;
  /** The consumer's retrier: its waits, and its clock. */
  readonly retrier: Retrier;
  /** The coordinator expires a member after this long without a heartbeat (rivvend `check_timeouts`). */
  readonly sessionTimeoutMs: number;
  /** No retries once the session is stopping. */
  stopped(): boolean;
  /** A request could not reach the coordinator; it is tried again on a new connection. */
  unreachable(error: unknown, failures: number): void;
  /** A request was answered over a connection other than the previous answer's: the membership survived a reconnect. */
  reconnected(downMs: number): void;
}

/** Sends one group request as the same member, over whatever coordinator connection is current. */
export type KeptRequest = <T>(request: (client: Client) => Observable<T>) => Observable<T>;

/**
 * Group requests that keep the membership through a dropped coordinator connection.
 *
 * rivvend 0.0.22 starts a rebalance on ANY JoinGroup to a Stable group, even one that repeats a
 * known member id: `GroupCoordinator::join_group` → `ConsumerGroup::add_member` (rivven-core
 * consumer_group.rs) re-inserts the member and calls `transition_to_preparing_rebalance`, which
 * bumps the generation of a Stable group. A dropped connection, on the other hand, costs the member
 * nothing there: no handler removes members when their connection closes (only LeaveGroup and
 * `check_timeouts`, after sessionTimeoutMs without a heartbeat, do), and Heartbeat and SyncGroup
 * check the member id and generation only — not the connection they arrive on. A SyncGroup
 * repeated for the same generation answers the same assignment (a Stable group answers at once; a
 * leader's repeated assignment is re-applied unchanged). So a member whose connection dropped —
 * in the stable phase or half-way through a round — must NOT start over with a new JoinGroup: it
 * reconnects and repeats the request that was cut, as the same member and generation. The
 * coordinator's answer then says whether to rejoin (UNKNOWN_MEMBER_ID after an expiry,
 * UNKNOWN_GROUP after a broker restart — groups live in memory —, ILLEGAL_GENERATION or
 * REBALANCE_IN_PROGRESS when others rebalanced meanwhile).
 *
 * Each call of the returned function is one request: over the current coordinator connection,
 * retried (reconnecting, with the retry policy's backoff) while the coordinator is unreachable and
 * the last answered request is younger than sessionTimeoutMs. Past that the coordinator, if it is
 * alive, has expired the member (and may have handed its partitions on): the request fails with a
 * ConnectionError saying so, and the coordinator loop rejoins as a new round.
 */
export function keptMembership(
  host: KeptMembershipHost,
  /** The connection the membership was joined over (an answer over another one is a kept reconnect). */
  joinedOver?: Client,
): KeptRequest {
  let previous: Client | undefined = joinedOver;
  const { retrier } = host;
  let answeredAt = retrier.scheduler.now();
  return <T>(request: (client: Client) => Observable<T>): Observable<T> => {
    let failures = 0;
    let downSince: number | undefined;
    return defer(() => from(host.coordinator())).pipe(
      concatMap((client) =>
        request(client).pipe(
          tap(() => {
            const now = retrier.scheduler.now();
            if (previous !== undefined && client !== previous) host.reconnected(downSince === undefined ? 0 : now - downSince);
            previous = client;
            answeredAt = now;
          }),
        ),
      ),
      retry({
        delay: (error: unknown) => {
          if (!isUnreachable(error) || host.stopped()) return throwError(() => error);
          const now = retrier.scheduler.now();
          downSince ??= now;
          const silentMs = now - answeredAt;
          // Bounded by the session, not by a count: past it a live coordinator has expired us.
          failures++;
          const wait = retrier.next(error, failures, { retriable: isUnreachable, maxAttempts: Number.POSITIVE_INFINITY, deadline: answeredAt + host.sessionTimeoutMs });
          if (wait === undefined) {
            return throwError(
              () =>
                new ConnectionError(
                  `no request reached the group coordinator for ${silentMs} ms (sessionTimeoutMs ${host.sessionTimeoutMs}): ` +
                    `a live coordinator has expired this member, so it rejoins as a new member; last error: ${error instanceof Error ? error.message : String(error)}`,
                  { cause: error },
                ),
            );
          }
          host.unreachable(error, failures);
          // A timed-out request leaves its connection in doubt; a broken one is already forgotten by the lanes.
          if (error instanceof RivvenTimeoutError || error instanceof ConnectionError) host.dropCoordinator();
          return timer(wait, retrier.scheduler);
        },
      }),
    );
  };
}
