/**
 * Consumer configuration: the shared connection settings (resolved in connection-settings.ts) plus
 * the names and defaults of rivven-client's `ConsumerConfig`, in camelCase, and the few options a
 * reactive consumer needs on top (fetch wait, assignor, acknowledgement mode, value framing).
 */
import { MAX_TIMER_MS, durationMs, integerIn, oneOf, optionsObject } from '../settings-validation.js';
import { checkScheduler, resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings, type SchedulerOption } from '../connection-settings.js';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { IsolationLevel } from '../client/client-types.js';
import { ConfigError } from '../errors.js';
import { rangeAssignor, type PartitionAssignor } from './assignors.js';
import type { ValueFraming } from '../protocol/value-framing.js';
import { RETRY_DEFAULTS } from '../client/retrier.js';

/**
 * What `Consumer.create` takes: `bootstrapServers`, the other shared settings (`clientId`, default
 * `'rivven-rx-consumer'`; `tls`, `auth`, `socketFactory`, `connectionTimeoutMs`, `logger`,
 * `logLevel`), `scheduler` (heartbeats, auto-commit, backoff), and the consumer's own options.
 *
 * - `requestTimeoutMs` is the time a request may take beyond its own wait (a fetch:
 *   fetchMaxWaitMs + this); whole ms ≥ 1 here. Default 30,000.
 * - `retry` paces reconnecting after a connection or request failure: jittered exponential
 *   backoff, and how many attempts in a row before `records$` errors. Default `{ maxAttempts: 10,
 *   initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 0.25 }`.
 * - `logger` receives health warnings (stalls, no broker answering, no topic) and the group's life
 *   cycle; the consumer's connections log through it too.
 */
export interface ConsumerConfig extends ConnectionSettings, SchedulerOption {
  /**
   * Consumer group: committed offsets are stored under it (and, with `topics`, membership).
   * Required with `topics` (a ConfigError says so): two applications that left it out would share
   * one group and split each other's partitions. With `assign` (static partitions, no
   * membership) it may be left out: offsets are then committed under `'default-group'`.
   */
  groupId?: string;
  /** Group-managed subscription: partitions are assigned by the group (JoinGroup/SyncGroup). */
  topics?: string[];
  /** Static assignment (no group membership): topic → partitions. Exclusive with `topics`. */
  assign?: Record<string, number[]>;
  /** Most records fetched (and held un-acknowledged) per partition at a time. Default 500. */
  maxPollRecords?: number;
  /**
   * Kafka's max.poll.interval, for a push consumer: when a partition cannot fetch because downstream
   * holds over half of maxPollRecords unacknowledged, and nothing at all is acknowledged for this
   * long, the member leaves the group (revoked with reason 'maxPollIntervalExceeded'); it rejoins
   * on the next acknowledgement. Group-managed consumers only. Default 5,000.
   */
  maxPollIntervalMs?: number;
  /** Commit acknowledged offsets every `autoCommitIntervalMs`. Default true. */
  enableAutoCommit?: boolean;
  /** Auto-commit interval. Default 5,000 ms. */
  autoCommitIntervalMs?: number;
  /** Default `read_uncommitted`; `read_committed` hides records of aborted transactions. */
  isolationLevel?: IsolationLevel;
  /**
   * Re-read partition counts of subscribed topics this often (a change triggers a rebalance).
   * Default 300,000 ms. A subscribed topic that does not exist is looked for sooner: after 1 s, 2 s,
   * 4 s, then every 5 s, so a consumer waiting for its topic starts within seconds of its creation.
   */
  metadataRefreshIntervalMs?: number;
  /** Read the owned partitions' log ends (lag$, health$.lag) this often. Default 5,000 ms. */
  lagIntervalMs?: number;
  /** The coordinator drops a member that sent no heartbeat for this long. Default 10,000 ms. */
  sessionTimeoutMs?: number;
  /** How long the coordinator waits for members during a rebalance. Default 30,000 ms. */
  rebalanceTimeoutMs?: number;
  /** Heartbeat cadence; clamped to ≤ sessionTimeoutMs / 3. Default 3,000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * On a revoke (rebalance, close, unsubscribe while records are in flight), how long the member
   * waits for downstream to acknowledge the records it already emitted for the revoked partitions
   * before it commits and gives them up (Reactor Kafka's maxDelayRebalance). The group's leader
   * waits for it, so no record is handed to two owners at once. 0: give up at once (records still
   * in flight are processed again by the next owner). Clamped to ≤ rebalanceTimeoutMs −
   * heartbeatIntervalMs. Default 10,000 ms.
   */
  maxDelayRebalanceMs?: number;
  /** Long-poll wait of each fetch. Short, because one connection answers in order. Default 100 ms. */
  fetchMaxWaitMs?: number;
  /**
   * Most connections used for fetching ("lanes"); the assigned partitions are spread over them
   * (the i-th partition of the assignment uses lane i mod n). rivvend answers one connection's
   * requests strictly in order, so an idle partition's long-poll holds up every fetch queued
   * behind it on the same connection; with a lane per partition nothing waits for another
   * partition. Partitions sharing a lane split fetchMaxWaitMs between them. Default 4.
   */
  fetchConnections?: number;
  /** Where to start a partition without a committed offset. Default `earliest`. */
  autoOffsetReset?: 'earliest' | 'latest';
  /** How the group leader splits partitions. Default the range assignor. */
  assignor?: PartitionAssignor;
  /**
   * When a record counts as acknowledged. `'manual'` (default): when you call `record.ack()` (or an
   * operator such as `commitOffsets()` does) — at-least-once. `'onEmit'`: as soon as the
   * subscriber's `next` returns, for readers that process synchronously; work a subscriber does
   * after `next` returns (async handlers) may be committed before it is done: at-most-once for it.
   */
  ackMode?: AckMode;
  /**
   * How fetched values are recognised as Rivven-framed (compressed) — see value-decoder.ts:
   * `'detect'` (default) alters a value only when it is beyond reasonable doubt framed;
   * `'rivven-core'` says every value of the topics was framed by a rivven-core Compressor (Rust
   * producers with compression); `'raw'` never alters a value.
   */
  valueFraming?: ValueFraming;
  /** Most decoded (decompressed) value bytes one fetch may produce; the rest is fetched later. Default 64 MiB. */
  maxFetchDecodedBytes?: number;
  /** Most decoded value bytes emitted and not yet acknowledged, over all partitions. Default 256 MiB. */
  maxInFlightDecodedBytes?: number;
}

/** See `ConsumerConfig.ackMode`. */
export type AckMode = 'manual' | 'onEmit';

/**
 * The resolved configuration: every default filled in. Each field is the `ConsumerConfig` option
 * of the same name.
 * @property groupId The group (`'default-group'` when a static assignment left it out).
 * @property topics The subscribed topics (empty with a static assignment).
 * @property assign The static assignment, topic → partitions (undefined with `topics`).
 * @property maxPollRecords Most records fetched and held un-acknowledged per partition.
 * @property maxPollIntervalMs How long nothing may be acknowledged before the member leaves the group.
 * @property enableAutoCommit Whether acknowledged offsets are committed every `autoCommitIntervalMs`.
 * @property autoCommitIntervalMs The auto-commit interval, in milliseconds.
 * @property isolationLevel `read_uncommitted` or `read_committed`.
 * @property metadataRefreshIntervalMs How often partition counts are re-read, in milliseconds.
 * @property lagIntervalMs How often the owned partitions' log ends are read, in milliseconds.
 * @property sessionTimeoutMs The group session timeout, in milliseconds.
 * @property rebalanceTimeoutMs The group rebalance timeout, in milliseconds.
 * @property heartbeatIntervalMs The heartbeat cadence, in milliseconds (≤ sessionTimeoutMs / 3).
 * @property maxDelayRebalanceMs How long a revoke waits for emitted records to be acknowledged, in milliseconds.
 * @property fetchMaxWaitMs Long-poll wait of each fetch, in milliseconds.
 * @property fetchConnections Most connections used for fetching.
 * @property autoOffsetReset Where a partition without a committed offset starts.
 * @property assignor How the group leader splits partitions.
 * @property scheduler Where the consumer's timers run.
 * @property ackMode When a record counts as acknowledged.
 * @property valueFraming How fetched values are recognised as Rivven-framed.
 * @property maxFetchDecodedBytes Most decoded value bytes one fetch may produce.
 * @property maxInFlightDecodedBytes Most decoded value bytes emitted and not yet acknowledged.
 */
export interface ResolvedConsumerConfig extends ResolvedConnectionSettings {
  groupId: string;
  topics: string[];
  assign: Map<string, number[]> | undefined;
  maxPollRecords: number;
  maxPollIntervalMs: number;
  enableAutoCommit: boolean;
  autoCommitIntervalMs: number;
  isolationLevel: IsolationLevel;
  metadataRefreshIntervalMs: number;
  lagIntervalMs: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxDelayRebalanceMs: number;
  fetchMaxWaitMs: number;
  fetchConnections: number;
  autoOffsetReset: 'earliest' | 'latest';
  assignor: PartitionAssignor;
  scheduler: SchedulerLike;
  ackMode: AckMode;
  valueFraming: ValueFraming;
  maxFetchDecodedBytes: number;
  maxInFlightDecodedBytes: number;
}

/**
 * The consumer's defaults, option by option (see `ConsumerConfig` for what each option does).
 * @namespace
 * @property groupId Offsets are committed under it when a static assignment leaves `groupId` out.
 * @property maxPollRecords Default of `maxPollRecords`.
 * @property maxPollIntervalMs Default of `maxPollIntervalMs`.
 * @property enableAutoCommit Default of `enableAutoCommit`.
 * @property autoCommitIntervalMs Default of `autoCommitIntervalMs`.
 * @property isolationLevel Default of `isolationLevel`.
 * @property metadataRefreshIntervalMs Default of `metadataRefreshIntervalMs`.
 * @property lagIntervalMs Default of `lagIntervalMs`.
 * @property retry Default of `retry` (the consumer's reconnection backoff).
 * @property sessionTimeoutMs Default of `sessionTimeoutMs`.
 * @property rebalanceTimeoutMs Default of `rebalanceTimeoutMs`.
 * @property heartbeatIntervalMs Default of `heartbeatIntervalMs`.
 * @property maxDelayRebalanceMs Default of `maxDelayRebalanceMs`.
 * @property fetchMaxWaitMs Default of `fetchMaxWaitMs`.
 * @property fetchConnections Default of `fetchConnections`.
 * @property autoOffsetReset Default of `autoOffsetReset`.
 * @property clientId Default of `clientId` for a consumer.
 * @property ackMode Default of `ackMode`.
 * @property requestTimeoutMs Default of `requestTimeoutMs`.
 * @property connectionTimeoutMs Default of `connectionTimeoutMs`.
 * @property valueFraming Default of `valueFraming`.
 * @property maxFetchDecodedBytes Default of `maxFetchDecodedBytes`.
 * @property maxInFlightDecodedBytes Default of `maxInFlightDecodedBytes`.
 */
export const CONSUMER_DEFAULTS = {
  groupId: 'default-group',
  maxPollRecords: 500,
  maxPollIntervalMs: 5_000,
  enableAutoCommit: true,
  autoCommitIntervalMs: 5_000,
  isolationLevel: 'read_uncommitted' as IsolationLevel,
  metadataRefreshIntervalMs: 300_000,
  lagIntervalMs: 5_000,
  retry: RETRY_DEFAULTS.Consumer,
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxDelayRebalanceMs: 10_000,
  fetchMaxWaitMs: 100,
  fetchConnections: 4,
  autoOffsetReset: 'earliest' as const,
  clientId: 'rivven-rx-consumer',
  ackMode: 'manual' as AckMode,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 10_000,
  valueFraming: 'detect' as ValueFraming,
  maxFetchDecodedBytes: 64 * 1024 * 1024,
  maxInFlightDecodedBytes: 256 * 1024 * 1024,
} as const;

/** Consumer presets, spread into the options: `{ ...ConsumerPresets.readCommitted, topics }`. */
export const ConsumerPresets = {
  /** As rivven-client's `.read_committed()`: records of aborted transactions are hidden. */
  readCommitted: Object.freeze({ isolationLevel: 'read_committed' }) as Readonly<Pick<ConsumerConfig, 'isolationLevel'>>,
} as const;

/** An integer option in min..max, or its default when not given. */
function intOption(option: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  return value === undefined ? fallback : integerIn(option, value, min, max);
}

/** A duration option in whole ms (≤ setTimeout's limit), or its default when not given. */
function msOption(option: string, value: number | undefined, fallback: number, min: number, max = MAX_TIMER_MS): number {
  if (value === undefined) return fallback;
  return integerIn(option, durationMs(option, value, min), min, max);
}

/** The consumer's own option names (the shared ones are connection-settings.ts's). */
const CONSUMER_OWN_KEYS = [
  'ackMode',
  'assign',
  'assignor',
  'autoCommitIntervalMs',
  'autoOffsetReset',
  'enableAutoCommit',
  'fetchConnections',
  'fetchMaxWaitMs',
  'groupId',
  'heartbeatIntervalMs',
  'isolationLevel',
  'lagIntervalMs',
  'maxDelayRebalanceMs',
  'maxFetchDecodedBytes',
  'maxInFlightDecodedBytes',
  'maxPollIntervalMs',
  'maxPollRecords',
  'metadataRefreshIntervalMs',
  'rebalanceTimeoutMs',
  'scheduler',
  'sessionTimeoutMs',
  'topics',
  'valueFraming',
] as const satisfies readonly (keyof ConsumerConfig)[];

export function resolveConsumerConfig(input: ConsumerConfig): ResolvedConsumerConfig {
  const config = optionsObject<ConsumerConfig>('Consumer', input);
  const shared = resolveConnectionSettings('Consumer', config, {
    ownKeys: CONSUMER_OWN_KEYS,
    retry: CONSUMER_DEFAULTS.retry,
    clientId: CONSUMER_DEFAULTS.clientId,
  });
  const groupId = config.groupId ?? CONSUMER_DEFAULTS.groupId;
  if (typeof groupId !== 'string' || groupId.length === 0) throw new ConfigError('groupId', `expected a non-empty string, got ${JSON.stringify(groupId)}`);

  const topics = config.topics ?? [];
  if (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new ConfigError('topics', 'expected an array of topic names');
  }
  let assign: Map<string, number[]> | undefined;
  if (config.assign !== undefined) {
    if (topics.length > 0) throw new ConfigError('assign', 'use either `topics` (group-managed) or `assign` (static), not both');
    assign = new Map();
    for (const [topic, partitions] of Object.entries(config.assign)) {
      if (!Array.isArray(partitions) || partitions.length === 0 || partitions.some((p) => !Number.isInteger(p) || p < 0 || p > 0xffffffff)) {
        throw new ConfigError('assign', `expected partition numbers ≥ 0 for topic '${topic}'`);
      }
      assign.set(topic, [...new Set(partitions)].sort((a, b) => a - b));
    }
    if (assign.size === 0) throw new ConfigError('assign', 'expected at least one topic');
  } else if (topics.length === 0) {
    throw new ConfigError('topics', 'set `topics` (group-managed) or `assign` (static partitions)');
  }

  const isolationLevel = oneOf('isolationLevel', config.isolationLevel ?? CONSUMER_DEFAULTS.isolationLevel, ['read_uncommitted', 'read_committed'] as const);
  const autoOffsetReset = oneOf('autoOffsetReset', config.autoOffsetReset ?? CONSUMER_DEFAULTS.autoOffsetReset, ['earliest', 'latest'] as const);
  const sessionTimeoutMs = msOption('sessionTimeoutMs', config.sessionTimeoutMs, CONSUMER_DEFAULTS.sessionTimeoutMs, 1);
  const rebalanceTimeoutMs = msOption('rebalanceTimeoutMs', config.rebalanceTimeoutMs, CONSUMER_DEFAULTS.rebalanceTimeoutMs, 1);
  const heartbeatRequested = msOption('heartbeatIntervalMs', config.heartbeatIntervalMs, CONSUMER_DEFAULTS.heartbeatIntervalMs, 1);
  // As rivven-client: the heartbeat must fit three times in the session timeout.
  const heartbeatIntervalMs = Math.max(1, Math.min(heartbeatRequested, Math.floor(sessionTimeoutMs / 3)));
  const assignor = config.assignor ?? rangeAssignor;
  if (typeof assignor?.assign !== 'function' || typeof assignor.name !== 'string') {
    throw new ConfigError('assignor', 'expected a PartitionAssignor ({ name, assign(members, partitionsPerTopic) })');
  }
  // A fetch waits fetchMaxWaitMs plus this, and a throttle is capped at it (as a bigint): whole ms,
  // and no 0 (which elsewhere means no timeout).
  const requestTimeoutMs = msOption('requestTimeoutMs', config.requestTimeoutMs, shared.requestTimeoutMs, 1);
  const ackMode = oneOf('ackMode', config.ackMode ?? CONSUMER_DEFAULTS.ackMode, ['manual', 'onEmit'] as const);
  const valueFraming = oneOf('valueFraming', config.valueFraming ?? CONSUMER_DEFAULTS.valueFraming, ['detect', 'rivven-core', 'raw'] as const);
  const maxFetchDecodedBytes = intOption('maxFetchDecodedBytes', config.maxFetchDecodedBytes, CONSUMER_DEFAULTS.maxFetchDecodedBytes, 1);
  const maxInFlightDecodedBytes = intOption('maxInFlightDecodedBytes', config.maxInFlightDecodedBytes, CONSUMER_DEFAULTS.maxInFlightDecodedBytes, 1);
  if (maxInFlightDecodedBytes < maxFetchDecodedBytes) throw new ConfigError('maxInFlightDecodedBytes', `must be ≥ maxFetchDecodedBytes (${maxFetchDecodedBytes})`);
  const enableAutoCommit = config.enableAutoCommit ?? CONSUMER_DEFAULTS.enableAutoCommit;
  if (typeof enableAutoCommit !== 'boolean') throw new ConfigError('enableAutoCommit', 'expected true or false');

  const resolved: ResolvedConsumerConfig = {
    ...shared,
    requestTimeoutMs,
    groupId,
    topics: [...new Set(topics)],
    assign,
    // The broker answers at most 10,000 messages per Consume.
    maxPollRecords: intOption('maxPollRecords', config.maxPollRecords, CONSUMER_DEFAULTS.maxPollRecords, 1, 10_000),
    maxPollIntervalMs: msOption('maxPollIntervalMs', config.maxPollIntervalMs, CONSUMER_DEFAULTS.maxPollIntervalMs, 1),
    enableAutoCommit,
    autoCommitIntervalMs: msOption('autoCommitIntervalMs', config.autoCommitIntervalMs, CONSUMER_DEFAULTS.autoCommitIntervalMs, 1),
    isolationLevel,
    metadataRefreshIntervalMs: msOption('metadataRefreshIntervalMs', config.metadataRefreshIntervalMs, CONSUMER_DEFAULTS.metadataRefreshIntervalMs, 1),
    lagIntervalMs: msOption('lagIntervalMs', config.lagIntervalMs, CONSUMER_DEFAULTS.lagIntervalMs, 1),
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    heartbeatIntervalMs,
    // The leader waits up to rebalanceTimeoutMs for members to finish revoking; leave it a heartbeat.
    maxDelayRebalanceMs: Math.min(
      msOption('maxDelayRebalanceMs', config.maxDelayRebalanceMs, CONSUMER_DEFAULTS.maxDelayRebalanceMs, 0),
      Math.max(0, rebalanceTimeoutMs - heartbeatIntervalMs),
    ),
    fetchMaxWaitMs: msOption('fetchMaxWaitMs', config.fetchMaxWaitMs, CONSUMER_DEFAULTS.fetchMaxWaitMs, 0),
    fetchConnections: intOption('fetchConnections', config.fetchConnections, CONSUMER_DEFAULTS.fetchConnections, 1, 256),
    autoOffsetReset,
    assignor,
    scheduler: checkScheduler(config.scheduler) ?? asyncScheduler,
    ackMode,
    valueFraming,
    maxFetchDecodedBytes,
    maxInFlightDecodedBytes,
  };
  // Checked after the other options, so a typo elsewhere is reported first.
  if (assign === undefined && config.groupId === undefined) {
    throw new ConfigError(
      'groupId',
      `a group consumer (topics: ${JSON.stringify(topics)}) needs a groupId — the consumer group whose members share the topics' partitions and under which ` +
        `offsets are committed, e.g. groupId: 'billing'. Consumers of one application share it; another application uses its own. ` +
        `(A consumer of fixed partitions, with assign instead of topics, may leave it out.)`,
    );
  }
  return resolved;
}
