/**
 * A Consumer's sessions: a session is one subscription of records$/batches$ (shared between
 * them). Subscribing starts one — its timers (session-timers.ts), then the static assignment or
 * the group membership — and the last unsubscribe (or close()) stops it: revoke everything,
 * commit, leave the group.
 */
import { Observable, ReplaySubject, firstValueFrom, map, share, takeUntil, timer, type SchedulerLike, type Subscriber } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ResolvedConsumerConfig } from './consumer-config.js';
import type { ConsumerRecord, RevokeReason, TopicPartition } from './consumer-record.js';
import type { AssignmentMeta } from './group-host.js';
import type { PartitionState } from './partition-state.js';
import { startSessionTimers, type SessionTimersHost } from './session-timers.js';
import type { Retrier } from '../client/retrier.js';

export class Session {
  stopped = false;
  /** Replays the stop, so waits that start after it end at once. */
  readonly stop$ = new ReplaySubject<void>(1);
  /** Replays the end: revoked, committed, left (after stop$, which starts it). */
  readonly ended$ = new ReplaySubject<void>(1);
  stopPromise: Promise<void> | undefined;
  constructor(readonly subscriber: Subscriber<FetchedBatch>) {}
}

/** Records of one fetch, with the partition state and epoch they were fetched in: live only while both still hold. */
export interface FetchedBatch {
  state: PartitionState;
  epoch: number;
  records: ConsumerRecord[];
}

/** Resolves after `ms` on the scheduler, or at once when the session stops. */
export function sessionSleep(session: Session, ms: number, scheduler: SchedulerLike): Promise<void> {
  return firstValueFrom(timer(ms, scheduler).pipe(map(() => undefined), takeUntil(session.stop$)), { defaultValue: undefined });
}

export interface SessionRunnerHost {
  readonly config: ResolvedConsumerConfig;
  readonly timers: SessionTimersHost;
  /** The group coordinator's part in a session (group-coordinator.ts). */
  readonly group: {
    run(session: Session): Promise<void>;
    revokeAll(reason: RevokeReason, session?: Session): Promise<void>;
    leave(): Promise<void>;
  };
  /** Takes the static assignment (partition-starter.ts). */
  readonly starter: { assignPartitions(session: Session, tps: TopicPartition[], meta: AssignmentMeta): Promise<void> };
  /** close() or kill() was called: no new session. */
  closed(): boolean;
  noteError(error: unknown): void;
  /** The consumer's retrier (retry): whether a failed start is tried again, and when. */
  readonly retrier: Retrier;
  /** A session stopped and gave everything up. */
  ended(): void;
}

export class SessionRunner {
  private currentValue: Session | undefined;
  /** What the session's fetch loops emit; a subscription is a session (shared by records$ and batches$). */
  readonly fetched$: Observable<FetchedBatch>;

  constructor(private readonly host: SessionRunnerHost) {
    this.fetched$ = new Observable<FetchedBatch>((subscriber) => {
      if (this.host.closed()) {
        subscriber.error(new ConfigError('consumer', 'this consumer is closed; create a new one'));
        return undefined;
      }
      const session = new Session(subscriber);
      this.currentValue = session;
      void this.run(session);
      return () => {
        void this.stop(session);
      };
    }).pipe(share());
  }

  /** The session under way (also while it stops), if any. */
  get current(): Session | undefined {
    return this.currentValue;
  }

  stop(session: Session): Promise<void> {
    if (session.stopPromise) return session.stopPromise;
    session.stopped = true;
    session.stop$.next();
    session.stopPromise = (async () => {
      await this.host.group.revokeAll('stopped', session);
      await this.host.group.leave();
      if (this.currentValue === session) this.currentValue = undefined;
      this.host.ended();
      session.ended$.next();
    })();
    return session.stopPromise;
  }

  /** Stop without revoking, committing or leaving (kill()): a later stop() resolves at once. */
  abandon(session: Session): void {
    session.stopped = true;
    session.stopPromise = Promise.resolve();
    session.stop$.next();
    session.ended$.next();
  }

  /**
   * Take the static assignment, retrying a retriable failure (no broker reachable yet, a dropped
   * connection) with the retry policy, as the group path does: a consumer started while the
   * broker restarts waits for it instead of failing at once.
   */
  private async assignStatic(session: Session, tps: TopicPartition[]): Promise<void> {
    const { config } = this.host;
    await this.host.retrier.run(
      async () => {
        if (session.stopped) return;
        await this.host.starter.assignPartitions(session, tps, { generationId: -1, memberId: '', isLeader: false });
      },
      {
        stopped: () => session.stopped,
        onRetry: (error) => this.host.noteError(error),
        sleep: (ms) => sessionSleep(session, ms, config.scheduler),
      },
    );
  }

  private async run(session: Session): Promise<void> {
    const { config } = this.host;
    const autoCommit = startSessionTimers(this.host.timers, session);
    try {
      if (config.assign) {
        const tps = [...config.assign].flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
        await this.assignStatic(session, tps);
      } else {
        await this.host.group.run(session);
      }
    } catch (error) {
      if (!session.stopped) {
        this.host.noteError(error);
        session.subscriber.error(error);
      }
    }
    if (session.stopped) autoCommit?.unsubscribe();
  }
}
