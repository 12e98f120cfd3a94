/**
 * The timers that live exactly as long as a Consumer's session: auto-commit, the health$ record
 * counts, the lag readings (lag$ and health$.lag) of the owned partitions. All end with the
 * session's stop.
 */
import { EMPTY, catchError, concatMap, defer, exhaustMap, from, interval, map, takeUntil, type Observable, type Subscription } from 'rxjs';
import type { Client } from '../client/client.js';
import type { ResolvedConsumerConfig } from './consumer-config.js';
import type { HealthTracker } from './consumer-health.js';
import { lagMonitor$, totalLag, type LagSource, type PartitionLag } from './lag-monitor.js';
import type { OwnedPartitions } from './owned-partitions.js';
import type { ClientKind } from './partition-state.js';

/** How often health$ refreshes the record counts while they change. */
const HEALTH_COUNTS_INTERVAL_MS = 1_000;

/** What the session's timers read and feed. */
export interface SessionTimersHost {
  readonly config: ResolvedConsumerConfig;
  readonly tracker: HealthTracker;
  readonly owned: OwnedPartitions;
  /** lag$: every reading of the session. */
  readonly lagReadings: { next(lags: PartitionLag[]): void };
  client(kind: ClientKind): Promise<Client>;
  /** Commit what was acknowledged (errors are the commit's to report). */
  commit$(): Observable<unknown>;
}

/** Start the session's timers; they end with `stop$`. Returns the auto-commit, if enabled. */
export function startSessionTimers(
  host: SessionTimersHost,
  session: { readonly stopped: boolean; readonly stop$: Observable<void>; readonly ended$: Observable<void> },
): Subscription | undefined {
  const { config, tracker } = host;
  let autoCommit: Subscription | undefined;
  if (config.enableAutoCommit) {
    autoCommit = interval(config.autoCommitIntervalMs, config.scheduler)
      .pipe(
        exhaustMap(() => host.commit$().pipe(catchError(() => EMPTY))),
        takeUntil(session.stop$),
      )
      .subscribe();
  }
  // Record counts change per record: health$ carries them at most once a second — also while the
  // session stops (a revoke waits up to maxDelayRebalanceMs for acknowledgements, which count).
  interval(HEALTH_COUNTS_INTERVAL_MS, config.scheduler)
    .pipe(takeUntil(session.ended$))
    .subscribe(() => tracker.refreshCounts());
  // Lag of the owned partitions, with the session (its timer ends with it).
  lagMonitor$(lagSourceOf(host), config.lagIntervalMs, config.scheduler)
    .pipe(takeUntil(session.stop$))
    .subscribe((lags) => {
      if (session.stopped) return;
      host.lagReadings.next(lags);
      const lag = lags.length === 0 && host.owned.size > 0 ? tracker.value.lag : totalLag(lags);
      if (lag !== tracker.value.lag) tracker.update({ lag });
    });
  return autoCommit;
}

function lagSourceOf(host: Pick<SessionTimersHost, 'owned' | 'client'>): LagSource {
  return {
    partitions: () => {
      const owned: ReturnType<LagSource['partitions']> = [];
      for (const s of host.owned.values()) {
        if (!s.stopped) owned.push({ topic: s.topic, partition: s.partition, position: s.position, committed: s.committed, lane: s.lane });
      }
      return owned;
    },
    // On the partition's fetch lane: the lane's partitions go out together (pipelined), one round trip per lane.
    logEnd$: (lane, topic, partition) =>
      defer(() => from(host.client(lane as ClientKind))).pipe(
        concatMap((client) => client.getOffsetBounds$(topic, partition)),
        map((bounds) => bounds.latest),
      ),
  };
}
