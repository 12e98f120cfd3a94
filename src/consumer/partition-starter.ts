/**
 * Taking an assignment (from the group or the static `assign`): each partition's start offset,
 * its fetch lane and share of the long-poll wait, its fetch loop wired to the session; then
 * assignments$, health and the 'assigned' event. Also the noTopic warning of a member given nothing.
 */
import { firstValueFrom } from 'rxjs';
import type { Client } from '../client/client.js';
import { ServerError } from '../errors.js';
import type { Log } from '../observability/log.js';
import type { MessageData } from '../protocol/response-schema.js';
import type { ResolvedConsumerConfig } from './consumer-config.js';
import type { HealthTracker, HiddenRecordsEvent, TruncationEvent } from './consumer-health.js';
import type { ConsumerRecord, RebalanceEvent, TopicPartition } from './consumer-record.js';
import type { Session } from './consumer-session.js';
import type { DecodedBudget } from './decoded-budget.js';
import { FetchLoop } from './fetch-loop.js';
import type { AssignmentMeta } from './group-host.js';
import type { OffsetStore } from './offset-store.js';
import type { OwnedPartitions } from './owned-partitions.js';
import { PartitionState, type ClientKind } from './partition-state.js';
import type { Retrier } from '../client/retrier.js';

export interface PartitionStarterHost {
  readonly config: ResolvedConsumerConfig;
  readonly budget: DecodedBudget;
  readonly owned: OwnedPartitions;
  readonly offsets: OffsetStore;
  readonly tracker: HealthTracker;
  readonly log: Log;
  client(kind: ClientKind): Promise<Client>;
  dropClient(kind: ClientKind): void;
  sleep(session: Session, ms: number): Promise<void>;
  /** The consumer's retrier (retry): when a fetch that failed is tried again. */
  readonly retrier: Retrier;
  /** The downstream record of a fetched message (acknowledgements.ts). */
  record(r: MessageData, value: Buffer, state: PartitionState, epoch: number): ConsumerRecord;
  /** A partition started or stopped waiting for acknowledgements (stall-monitor.ts). */
  waitingChanged(): void;
  truncated(event: TruncationEvent): void;
  /** Records hidden by read_committed were stepped over (health$, hidden$). */
  hidden(event: HiddenRecordsEvent): void;
  assignmentsChanged(tps: TopicPartition[]): void;
  rebalance(event: RebalanceEvent): void;
}

/**
 * Fetch lane and long-poll wait of the `index`-th of `count` partitions: spread round-robin over
 * `fetchConnections` lanes. rivvend answers a connection's requests in order, so an idle
 * partition's long-poll holds up the fetches behind it on its lane: partitions sharing a lane
 * split fetchMaxWaitMs between them, which bounds that hold-up to ~fetchMaxWaitMs.
 */
export function laneOf(index: number, count: number, fetchConnections: number, fetchMaxWaitMs: number): { lane: ClientKind; maxWaitMs: number } {
  const lanes = Math.max(1, Math.min(fetchConnections, count));
  const sharing = Math.floor(count / lanes) + (index % lanes < count % lanes ? 1 : 0);
  return { lane: `fetch-${index % lanes}`, maxWaitMs: fetchMaxWaitMs === 0 ? 0 : Math.max(1, Math.floor(fetchMaxWaitMs / sharing)) };
}

export class PartitionStarter {
  /** Partitions ('topic/partition') whose hidden records were logged: once each, then only counted. */
  private readonly hiddenLogged = new Set<string>();

  constructor(private readonly host: PartitionStarterHost) {}

  async assignPartitions(session: Session, tps: TopicPartition[], meta: AssignmentMeta): Promise<void> {
    const { config, owned } = this.host;
    // A static assignment is 'connecting' until its partitions are taken ('stable'); the group's states are group-coordinator.ts's.
    if (config.assign !== undefined && this.host.tracker.value.state === 'idle') this.host.tracker.update({ state: 'connecting' });
    const client = await this.host.client('coordinator');
    const states = await Promise.all(
      tps.map(async (tp) => {
        const seek = owned.takePendingSeek(tp.topic, tp.partition);
        const { committed, position } = await this.host.offsets.start(client, tp.topic, tp.partition, seek);
        const state = new PartitionState(tp.topic, tp.partition, position, committed, this.host.budget);
        state.paused = owned.isPaused(tp.topic, tp.partition);
        return state;
      }),
    );
    if (session.stopped) return;
    states.forEach((state, i) => {
      const { lane, maxWaitMs } = laneOf(i, states.length, config.fetchConnections, config.fetchMaxWaitMs);
      state.lane = lane;
      state.maxWaitMs = maxWaitMs;
      owned.add(state);
      this.startFetching(session, state);
    });
    this.host.assignmentsChanged(tps);
    this.host.tracker.update({ assignedPartitions: tps.length, ...(config.assign ? { state: 'stable' as const } : {}) });
    this.host.rebalance({ type: 'assigned', partitions: tps, ...meta });
    if (config.assign === undefined) void this.checkTopicsExist(client, tps.length);
  }

  /**
   * A group member with nothing assigned: say so in health$ when none of its topics exists (it
   * would otherwise sit 'stable' with 0 partitions). The warning clears at the next assignment
   * with partitions (a subscribed topic that is created triggers one, see metadataRefreshIntervalMs).
   */
  private async checkTopicsExist(client: Client, assigned: number): Promise<void> {
    const { config } = this.host;
    if (assigned > 0) {
      this.host.tracker.setWarning('noTopic', undefined);
      return;
    }
    const exists = await Promise.all(
      config.topics.map((topic) =>
        firstValueFrom(client.getMetadata$(topic)).then(
          () => true,
          (error: unknown) => !(error instanceof ServerError),
        ),
      ),
    );
    if (exists.some((e) => e)) {
      this.host.tracker.setWarning('noTopic', undefined);
      return;
    }
    this.host.tracker.setWarning(
      'noTopic',
      `none of the subscribed topics exists (${config.topics.join(', ')}): nothing to consume. Create it (createTopic$); ` +
        `a missing topic is looked for again after 1 s, 2 s, 4 s, then every 5 s, and the group rebalances once it exists`,
    );
  }

  private startFetching(session: Session, state: PartitionState): void {
    const host = this.host;
    const loop = new FetchLoop(
      {
        config: host.config,
        budget: host.budget,
        done: (s) => s.stopped || session.stopped,
        client: (kind) => host.client(kind),
        dropClient: (kind) => host.dropClient(kind),
        sleep: (ms) => host.sleep(session, ms),
        retrier: host.retrier,
        now: () => host.config.scheduler.now(),
        emit: (s, epoch, records, values) => {
          session.subscriber.next({ state: s, epoch, records: records.map((r, i) => host.record(r, values[i]!, s, epoch)) });
        },
        waiting: () => host.waitingChanged(),
        duplicates: (s, count) => {
          host.tracker.duplicates(count);
          host.log.warn('broker anomaly: it sent offsets already emitted (duplicates dropped; rivvend replays its log after a crash)', {
            topic: s.topic,
            partition: s.partition,
            duplicates: count,
          });
        },
        truncated: (event) => {
          host.log.warn(
            event.type === 'truncated'
              ? 'broker anomaly: the log end moved backwards (records were lost); continuing at the new log end'
              : 'broker anomaly: the broker serves no record from this offset although its log end is ahead (transaction markers only, or records lost in a crash); stepped over the unreadable range',
            { topic: event.topic, partition: event.partition, position: event.position, logEnd: event.logEnd, resumeAt: event.resumeAt },
          );
          host.truncated(event);
        },
        hidden: (event) => {
          const key = `${event.topic}/${event.partition}`;
          if (!this.hiddenLogged.has(key)) {
            this.hiddenLogged.add(key);
            host.log.warn(
              'read_committed: the broker hides records that read_uncommitted shows (aborted transactions, or on rivvend 0.0.22 committed records of a producer inside one of its aborted offset ranges); stepped over them — counted in health$.hiddenByIsolation from now on, not logged again for this partition',
              { topic: event.topic, partition: event.partition, position: event.from, resumeAt: event.to, records: event.records },
            );
          }
          host.hidden(event);
        },
        error: (error) => host.tracker.error(error),
      },
      state,
    );
    loop.run().catch((error: unknown) => {
      if (session.stopped || state.stopped) return;
      host.tracker.error(error);
      session.subscriber.error(error);
    });
  }
}
