/**
 * The group's offsets for a Consumer: the one place that picks where a partition starts (the
 * group's committed offset, else the `autoOffsetReset` end of the log) — at assignment, on
 * rewindToCommitted$, and after OFFSET_OUT_OF_RANGE — and the one that commits acknowledged
 * offsets.
 */
import { Observable, concatMap, defer, firstValueFrom, forkJoin, from, map, of, retry, tap, timer, type SchedulerLike } from 'rxjs';
import { Trace, commitChannel, isTraced, type CommitTraceMessage } from '../observability/channels.js';
import { Log } from '../observability/log.js';
import type { Client } from '../client/client.js';
import type { OffsetBounds } from '../client/client-types.js';
import { RivvenError, TimeoutError, isUnreachable } from '../errors.js';
import type { CommittedOffsets } from './consumer-record.js';
import type { PartitionState } from './partition-state.js';

/** Where a partition without a usable committed offset starts. */
export function resetPosition(bounds: OffsetBounds, autoOffsetReset: 'earliest' | 'latest'): bigint {
  return autoOffsetReset === 'earliest' ? bounds.earliest : bounds.latest;
}

export interface OffsetStoreOptions {
  groupId: string;
  autoOffsetReset: 'earliest' | 'latest';
  scheduler: SchedulerLike;
  coordinator(): Promise<Client>;
  dropCoordinator(): void;
  /** Reconnect delay after `failures` failures in a row. */
  backoff(failures: number): number;
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
      // A connection that dropped is replaced (a failed one is never handed out again): try once
      // more on a fresh one before telling the caller.
      retry({
        count: 1,
        delay: (error: unknown) => {
          this.options.onError(error);
          if (!isUnreachable(error) || this.options.closed()) throw error;
          if (error instanceof TimeoutError) this.options.dropCoordinator();
          return timer(this.options.backoff(1), this.options.scheduler);
        },
      }),
      tap({ error: (error: unknown) => this.logFailure(due, error) }),
    );
    return defer(() => {
      if (!isTraced(commitChannel)) return commit$;
      const trace = new Trace<CommitTraceMessage>(commitChannel, {
        groupId,
        offsets: due.map(({ state, offset }) => ({ topic: state.topic, partition: state.partition, offset })),
      });
      return commit$.pipe(tap({ next: () => trace.finish(), error: (error: unknown) => trace.fail(error), unsubscribe: () => trace.fail(new Error('commit cancelled')) }));
    });
  }

  private logFailure(due: readonly { state: PartitionState; offset: bigint }[], error: unknown): void {
    const log = this.options.log ?? Log.silent;
    if (!log.enabled('warn')) return;
    log.warn('commit failed: the offsets stay uncommitted (a new owner re-reads from the last commit); the next commit tries again', {
      groupId: this.options.groupId,
      offsets: due.map(({ state, offset }) => `${state.topic}/${state.partition}@${offset}`).join(','),
      errorCode: error instanceof RivvenError ? error.code : 'UNKNOWN',
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
