/**
 * What the group coordinator reads and calls of the consumer: its session, its partitions and the
 * narrow host (coordinator connection, commits, assignPartitions, health, timing). Types only, so
 * the coordinator's parts (group-join.ts, group-revoke.ts) share them without importing each other.
 */
import type { Observable } from 'rxjs';
import type { Client } from '../client/client.js';
import type { Log } from '../observability/log.js';
import type { ResolvedConsumerConfig } from './consumer-config.js';
import type { ConsumerHealth } from './consumer-health.js';
import type { CommittedOffsets, RebalanceEvent, TopicPartition } from './consumer-record.js';
import type { PollProbe } from './group-watch.js';
import type { Retrier } from '../client/retrier.js';

/** What the coordinator reads of a subscription (consumer-session.ts's Session). */
export interface GroupSession {
  readonly stopped: boolean;
  /** Replays the stop. */
  readonly stop$: Observable<void>;
  /** Downstream: once it is closed (unsubscribed), no acknowledgement will come. */
  readonly subscriber: { readonly closed: boolean };
}

/** What the coordinator reads and changes of a partition the consumer owns (partition-state.ts's PartitionState). */
export interface GroupPartition {
  readonly topic: string;
  readonly partition: number;
  /** Next offset after the last record handed downstream in this epoch. */
  readonly delivered: bigint | undefined;
  /** Next offset to commit (highest acknowledged + 1) in this epoch. */
  readonly acked: bigint | undefined;
  /** No more emission (a revoke is under way). */
  emitting: boolean;
  /** Revoked: acks ignored, the fetch loop ends. */
  stopped: boolean;
  /** Wake the partition's fetch loop. */
  signal(): void;
}

export interface AssignmentMeta {
  generationId: number;
  memberId: string;
  isLeader: boolean;
}

/** The parts of the Consumer the coordinator works with. */
export interface GroupHost<S extends GroupSession, P extends GroupPartition> {
  readonly config: ResolvedConsumerConfig;
  readonly pollProbe: PollProbe;
  /** The coordination connection (opened on first use). */
  coordinator(): Promise<Client>;
  /** Forget a failed coordination connection. */
  dropCoordinator(): void;
  /** Partitions owned now. */
  partitions(): P[];
  /** Forget a revoked partition (unless it was replaced meanwhile). */
  release(state: P): void;
  /** Commit the acknowledged offsets of these partitions. */
  commit$(states: P[]): Observable<CommittedOffsets>;
  /** Take these partitions: positions, fetch loops, assignments$, the 'assigned' event. */
  assignPartitions(session: S, tps: TopicPartition[], meta: AssignmentMeta): Promise<void>;
  assignmentsChanged(tps: TopicPartition[]): void;
  rebalance(event: RebalanceEvent): void;
  health(): ConsumerHealth;
  updateHealth(change: Partial<ConsumerHealth>): void;
  /** health$.lastError (an error that is retried, not thrown). */
  noteError(error: unknown): void;
  /** Acknowledgements so far (also of stale records). */
  ackCount(): number;
  /** Resolves after `ms` on the scheduler, or at once when the session stops. */
  sleep(session: S, ms: number): Promise<void>;
  /** Whether to try again after a failure, and how long to wait first (the consumer's `retry`). */
  readonly retrier: Retrier;
  /** Group life cycle lines (join, sync, rebalance, leave: info). */
  readonly log: Log;
}
