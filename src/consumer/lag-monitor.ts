/**
 * Consumer lag: per assigned partition, how far the log end is ahead of the consumer's position,
 * read every `intervalMs` with `GetOffsetBounds`. The partitions of one fetch lane are asked
 * together (pipelined on the lane's connection, so one round trip per lane), and a round that is
 * still under way when the next is due is not doubled up (a slow broker gets fewer requests, not
 * more).
 */
import { EMPTY, type Observable, catchError, exhaustMap, forkJoin, map, of, timer, type SchedulerLike } from 'rxjs';

/** How far one owned partition's log end is ahead of the consumer (`Consumer.lag$`). */
export interface PartitionLag {
  /** The topic. */
  topic: string;
  /** The partition number. */
  partition: number;
  /** Next offset the consumer fetches. */
  position: bigint;
  /** The group's committed offset as this consumer last knew it (undefined: none). */
  committed: bigint | undefined;
  /** The partition's log end (next offset to be written). */
  logEnd: bigint;
  /** logEnd − position, never negative. */
  lag: bigint;
}

export interface LagSource {
  /** The partitions owned now, with the lane their requests go over. */
  partitions(): { topic: string; partition: number; position: bigint; committed: bigint | undefined; lane: string }[];
  /** The partition's log end, on the given lane. */
  logEnd$(lane: string, topic: string, partition: number): Observable<bigint>;
}

/** Total lag over partitions. */
export function totalLag(lags: readonly PartitionLag[]): bigint {
  let total = 0n;
  for (const l of lags) total += l.lag;
  return total;
}

/**
 * Lag of every owned partition every `intervalMs` (the first at once). A partition whose bounds
 * cannot be read this round is left out of that round; the stream itself never errors.
 */
export function lagMonitor$(source: LagSource, intervalMs: number, scheduler: SchedulerLike): Observable<PartitionLag[]> {
  return timer(0, intervalMs, scheduler).pipe(
    exhaustMap(() => {
      const owned = source.partitions();
      if (owned.length === 0) return of([] as PartitionLag[]);
      return forkJoin(
        owned.map((p) =>
          source.logEnd$(p.lane, p.topic, p.partition).pipe(
            map((logEnd): PartitionLag | undefined => ({
              topic: p.topic,
              partition: p.partition,
              position: p.position,
              committed: p.committed,
              logEnd,
              lag: logEnd > p.position ? logEnd - p.position : 0n,
            })),
            catchError(() => of(undefined)),
          ),
        ),
      ).pipe(
        map((all) => all.filter((l): l is PartitionLag => l !== undefined)),
        catchError(() => EMPTY),
      );
    }),
  );
}
