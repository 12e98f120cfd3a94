/**
 * The group's offsets for a Consumer: the one place that picks where a partition starts (the
 * group's committed offset, else the `autoOffsetReset` end of the log) — at assignment, on
 * rewindToCommitted$, and after OFFSET_OUT_OF_RANGE — and the one that commits acknowledged
 * offsets.
 */
import { type Observable, catchError, concatMap, defer, firstValueFrom, forkJoin, from, map, of, tap, throwError, type SchedulerLike } from 'rxjs';
import { Trace, commitChannel, isTraced, type CommitTraceMessage } from '../observability/channels.js';
import { Log } from '../observability/log.js';
import type { Client } from '../client/client.js';
import type { OffsetBounds } from '../client/client-types.js';
import { AllServersUnavailableError, ConnectionError, RivvenError, RivvenTimeoutError, isUnreachable } from '../errors.js';
import type { CommittedOffsets } from './consumer-record.js';
import type { PartitionState } from './partition-state.js';
import type { Retrier } from '../client/retrier.js';

/** Where a partition without a usable committed offset starts. */
export function resetPosition(bounds: OffsetBounds, autoOffsetReset: 'earliest' | 'latest'): bigint {
  return autoOffsetReset === 'earliest' ? bounds.earliest : bounds.latest;
}

/**
 * A commit whose coordinator cannot be reached is retried for at least this long (and for at least
 * `retry.maxAttempts` attempts, whichever ends later). A clean rivvend restart takes 3–8 s of
 * downtime, up to ~15 s when its shutdown waits out its drains (cluster_server.rs: up to 10 s for
 * connections, 5 s for its tasks): 20 s covers it with room for the reconnect backoff.
 */
export const COMMIT_RETRY_MIN_MS = 20_000;

export interface OffsetStoreOptions {
  groupId: string;
  autoOffsetReset: 'earliest' | 'latest';
  scheduler: SchedulerLike;
  coordinator(): Promise<Client>;
  dropCoordinator(): void;
  /** The consumer's retrier: a commit gives up no earlier than after its `retry.maxAttempts` attempts (and COMMIT_RETRY_MIN_MS). */
  retrier: Retrier;
  /** A commit attempt failed (also one that is retried). */
  onError(error: unknown): void;
  /** No retries once the consumer is closing for good. */
  closed(): boolean;
  /** Commit failures are logged here (warn). */
  log?: Log;
}

export class OffsetStore {
  constructor(private readonly options: OffsetStoreOptions) {}

  /** The group's committed offset and where to start: `seek` if given, else the committed offset, else the reset end. */
  async start(client: Client, topic: string, partition: number, seek?: bigint): Promise<{ committed: bigint | undefined; position: bigint }> {
    const committed = await firstValueFrom(client.getOffset$(this.options.groupId, topic, partition));
    const position = seek ?? committed;
    if (position !== undefined) return { committed, position };
    const bounds = await firstValueFrom(client.getOffsetBounds$(topic, partition));
    return { committed, position: resetPosition(bounds, this.options.autoOffsetReset) };
  }

  /** Commit the acknowledged offsets of these partitions not committed yet; emits what was committed. */
  commit$(states: readonly PartitionState[]): Observable<CommittedOffsets> {
    const { groupId } = this.options;
    const due = states
      .map((state) => ({ state, offset: state.acked }))
      .filter((d): d is { state: PartitionState; offset: bigint } => d.offset !== undefined && d.offset !== d.state.committed);
    if (due.length === 0) return of({ offsets: [] });
    const commit$ = defer(() => from(this.options.coordinator())).pipe(
      concatMap((client) =>
        forkJoin(
          due.map(({ state, offset }) =>
            client.commitOffset$(groupId, state.topic, state.partition, offset).pipe(
              map(() => {
                state.committed = offset;
                return { topic: state.topic, partition: state.partition, offset };
              }),
            ),
          ),
        ),
      ),
      map((offsets) => ({ offsets })),
    );
    const retried$ = defer(() => {
      // Per subscription: when this commit started and how often it was tried.
      const startedAt = this.options.scheduler.now();
      let attempts = 1;
      return commit$.pipe(
        tap({ error: (error: unknown) => this.options.onError(error) }),
        // The coordinator unreachable (a dropped connection, the broker restarting: every attempt
        // opens a fresh connection, a failed one is never handed out again) is retried with the
        // retry policy's backoff until both `retry.maxAttempts` attempts were made and
        // COMMIT_RETRY_MIN_MS passed — long enough for a clean broker restart, so that a
        // commitOffsets() pipeline is not ended by one. The broker refusing the commit is not retried.
        this.options.retrier.retry$({
          retriable: isUnreachable,
          minElapsedMs: COMMIT_RETRY_MIN_MS,
          stopped: () => this.options.closed(),
          onRetry: (error, failures) => {
            if (failures === 1) this.logRetrying(due, error);
            if (error instanceof RivvenTimeoutError) this.options.dropCoordinator();
            attempts = failures + 1;
          },
        }),
        catchError((error: unknown) => {
          const elapsedMs = this.options.scheduler.now() - startedAt;
          const failure = attempts > 1 ? gaveUp(error, `commit of ${describe(due)} for group '${groupId}' gave up after ${attempts} attempts over ${elapsedMs} ms without reaching the group coordinator`) : error;
          this.logFailure(due, failure, attempts);
          return throwError(() => failure);
        }),
      );
    });
    return defer(() => {
      if (!isTraced(commitChannel)) return retried$;
      const trace = new Trace<CommitTraceMessage>(commitChannel, {
        groupId,
        offsets: due.map(({ state, offset }) => ({ topic: state.topic, partition: state.partition, offset })),
      });
      return retried$.pipe(tap({ next: () => trace.finish(), error: (error: unknown) => trace.fail(error), unsubscribe: () => trace.fail(new Error('commit cancelled')) }));
    });
  }

  private logRetrying(due: readonly Due[], error: unknown): void {
    const log = this.options.log ?? Log.silent;
    if (!log.enabled('warn')) return;
    log.warn(`commit could not reach the group coordinator (broker down or restarting?): retrying with backoff for at least ${COMMIT_RETRY_MIN_MS} ms and ${this.options.retrier.policy.maxAttempts} attempts`, {
      groupId: this.options.groupId,
      offsets: describe(due),
      errorCode: error instanceof RivvenError ? error.code : 'UNKNOWN',
      error: error instanceof Error ? error.message : String(error),
    });
  }

  private logFailure(due: readonly Due[], error: unknown, attempts: number): void {
    const log = this.options.log ?? Log.silent;
    if (!log.enabled('warn')) return;
    // What happens next depends on who asked: say both, not a promise only one of them keeps.
    log.warn(
      'commit failed: the offsets stay uncommitted (a new owner re-reads from the last commit); commit$() errors with this error — ' +
        'auto-commit tries again at its next interval, a commitOffsets() pipeline ends with it unless it retries',
      {
        groupId: this.options.groupId,
        offsets: describe(due),
        attempt: attempts,
        errorCode: error instanceof RivvenError ? error.code : 'UNKNOWN',
        error: error instanceof Error ? error.message : String(error),
      },
    );
  }
}

type Due = { state: PartitionState; offset: bigint };

function describe(due: readonly Due[]): string {
  return due.map(({ state, offset }) => `${state.topic}/${state.partition}@${offset}`).join(',');
}

/** The same kind of error (code, retriable, instanceof), saying what the retries amounted to; the last attempt's error is the cause. */
function gaveUp(error: unknown, what: string): unknown {
  if (!(error instanceof Error)) return error;
  const message = `${what}: ${error.message}`;
  if (error instanceof AllServersUnavailableError) return new AllServersUnavailableError(message, { cause: error });
  if (error instanceof RivvenTimeoutError) return new RivvenTimeoutError(message, { cause: error });
  // Subclasses of ConnectionError (a transaction's interruption) carry their own meaning: keep them as they are.
  if (error.constructor === ConnectionError) return new ConnectionError(message, { cause: error });
  return error;
}
