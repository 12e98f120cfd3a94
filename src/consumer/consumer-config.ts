/**
 * Consumer configuration: the names and defaults of rivven-client's `ConsumerConfig`, in camelCase,
 * plus the few options a reactive consumer needs on top (fetch wait, assignor, scheduler).
 */
import { MAX_TIMER_MS, durationMs, integerIn, oneOf, rejectUnknownKeys } from '../settings-validation.js';
import { resolveBootstrapServers, resolveRetryPolicy, type AuthOptions, type ResolvedRetryPolicy, type RetryPolicy, type SocketFactory, type TlsOptions } from '../connection-settings.js';
import { connectionOptionsOf, validateConnectionOptions } from '../transport/connection-options.js';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { IsolationLevel } from '../client/client-types.js';
import { ConfigError } from '../errors.js';
import { rangeAssignor, type PartitionAssignor } from './assignors.js';
import type { ValueFraming } from '../protocol/value-framing.js';
import type { Logger, LogLevel } from '../observability/log.js';
import { RETRY_DEFAULTS } from '../client/retrier.js';

export interface ConsumerConfig {
  /** `host:port` of the brokers (one, or a list); failover walks the list. Default `'127.0.0.1:9092'`. */
  bootstrapServers?: string | readonly string[];
  /** Consumer group: committed offsets are stored under it (and, with `topics`, membership). Default `default-group`. */
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
  /** Re-read partition counts of subscribed topics this often (a change triggers a rebalance). Default 300,000 ms. */
  metadataRefreshIntervalMs?: number;
  /** Read the owned partitions' log ends (lag$, health$.lag) this often. Default 5,000 ms. */
  lagIntervalMs?: number;
  /**
   * Reconnecting after a connection or request failure: jittered exponential backoff, and how many
   * attempts in a row before `records$` errors. Default `{ maxAttempts: 10, initialDelayMs: 100,
   * maxDelayMs: 10_000, multiplier: 2, jitter: 0.25 }`.
   */
  retry?: RetryPolicy;
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
  /** Shown in broker logs. Default `rivven-rx-consumer`. */
  clientId?: string;
  auth?: AuthOptions;
  tls?: TlsOptions;
  /** For tests and proxies. */
  socketFactory?: SocketFactory;
  /** Scheduler for heartbeats, auto-commit and backoff (tests use virtual time). */
  scheduler?: SchedulerLike;
  /**
   * When a record counts as acknowledged. `'manual'` (default): when you call `record.ack()` (or an
   * operator such as `commitOffsets()` does) — at-least-once. `'onEmit'`: as soon as the
   * subscriber's `next` returns, for readers that process synchronously; work a subscriber does
   * after `next` returns (async handlers) may be committed before it is done: at-most-once for it.
   */
  ackMode?: AckMode;
  /** Time a request may take beyond its own wait (a fetch: fetchMaxWaitMs + this). Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Time allowed to open a connection (TCP, TLS, handshake, authentication). Default 10,000 ms. */
  connectionTimeoutMs?: number;
  /** Where the consumer logs (health warnings: stalls, no broker answering, no topic). Default: warnings to stderr; `null`: off. */
  logger?: Logger | null;
  /** Default `'warn'`. */
  logLevel?: LogLevel;
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

export interface ResolvedConsumerConfig {
  bootstrapServers: string[];
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
  retry: ResolvedRetryPolicy;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxDelayRebalanceMs: number;
  fetchMaxWaitMs: number;
  fetchConnections: number;
  autoOffsetReset: 'earliest' | 'latest';
  assignor: PartitionAssignor;
  clientId: string;
  auth: AuthOptions | undefined;
  tls: TlsOptions | undefined;
  socketFactory: SocketFactory | undefined;
  scheduler: SchedulerLike;
  ackMode: AckMode;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  logger: Logger | null | undefined;
  logLevel: LogLevel | undefined;
  valueFraming: ValueFraming;
  maxFetchDecodedBytes: number;
  maxInFlightDecodedBytes: number;
}

export const CONSUMER_DEFAULTS = {
  bootstrapServers: ['127.0.0.1:9092'],
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

/** Every option a Consumer takes: anything else is a typo, refused with the closest name. */
export const CONSUMER_OPTION_KEYS = [
  'ackMode',
  'assign',
  'assignor',
  'auth',
  'autoCommitIntervalMs',
  'autoOffsetReset',
  'bootstrapServers',
  'clientId',
  'connectionTimeoutMs',
  'enableAutoCommit',
  'fetchConnections',
  'fetchMaxWaitMs',
  'groupId',
  'heartbeatIntervalMs',
  'isolationLevel',
  'lagIntervalMs',
  'logLevel',
  'logger',
  'maxDelayRebalanceMs',
  'maxFetchDecodedBytes',
  'maxInFlightDecodedBytes',
  'maxPollIntervalMs',
  'maxPollRecords',
  'metadataRefreshIntervalMs',
  'rebalanceTimeoutMs',
  'requestTimeoutMs',
  'retry',
  'scheduler',
  'sessionTimeoutMs',
  'socketFactory',
  'tls',
  'topics',
  'valueFraming',
] as const satisfies readonly (keyof ConsumerConfig)[];

/** Names of earlier versions, refused with what replaced them. */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  maxReconnectAttempts: "'retry: { maxAttempts }', which counts the first attempt too (maxReconnectAttempts: n is maxAttempts: n + 1)",
  reconnectBackoffMs: "'retry: { initialDelayMs }'",
  reconnectBackoffMaxMs: "'retry: { maxDelayMs }'",
};

export function resolveConsumerConfig(config: ConsumerConfig): ResolvedConsumerConfig {
  if (config === null || typeof config !== 'object') throw new ConfigError('config', 'expected a ConsumerConfig object');
  rejectUnknownKeys('Consumer', config, CONSUMER_OPTION_KEYS, FORMER_NAMES);
  const bootstrapServers = resolveBootstrapServers(config.bootstrapServers ?? CONSUMER_DEFAULTS.bootstrapServers);
  const groupId = config.groupId ?? CONSUMER_DEFAULTS.groupId;
  if (typeof groupId !== 'string' || groupId.length === 0) throw new ConfigError('groupId', 'expected a non-empty string');

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
  const retry = resolveRetryPolicy(config.retry, CONSUMER_DEFAULTS.retry);
  const assignor = config.assignor ?? rangeAssignor;
  if (typeof assignor?.assign !== 'function' || typeof assignor.name !== 'string') {
    throw new ConfigError('assignor', 'expected a PartitionAssignor ({ name, assign(members, partitionsPerTopic) })');
  }
  // The shared settings a connection takes, checked as every component checks them (at creation).
  validateConnectionOptions(connectionOptionsOf(config), 'Consumer');
  const ackMode = oneOf('ackMode', config.ackMode ?? CONSUMER_DEFAULTS.ackMode, ['manual', 'onEmit'] as const);
  const valueFraming = oneOf('valueFraming', config.valueFraming ?? CONSUMER_DEFAULTS.valueFraming, ['detect', 'rivven-core', 'raw'] as const);
  const maxFetchDecodedBytes = intOption('maxFetchDecodedBytes', config.maxFetchDecodedBytes, CONSUMER_DEFAULTS.maxFetchDecodedBytes, 1);
  const maxInFlightDecodedBytes = intOption('maxInFlightDecodedBytes', config.maxInFlightDecodedBytes, CONSUMER_DEFAULTS.maxInFlightDecodedBytes, 1);
  if (maxInFlightDecodedBytes < maxFetchDecodedBytes) throw new ConfigError('maxInFlightDecodedBytes', `must be ≥ maxFetchDecodedBytes (${maxFetchDecodedBytes})`);
  const enableAutoCommit = config.enableAutoCommit ?? CONSUMER_DEFAULTS.enableAutoCommit;
  if (typeof enableAutoCommit !== 'boolean') throw new ConfigError('enableAutoCommit', 'expected true or false');

  return {
    bootstrapServers,
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
    retry,
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
    clientId: config.clientId ?? CONSUMER_DEFAULTS.clientId,
    auth: config.auth,
    tls: config.tls,
    socketFactory: config.socketFactory,
    scheduler: config.scheduler ?? asyncScheduler,
    ackMode,
    requestTimeoutMs: msOption('requestTimeoutMs', config.requestTimeoutMs, CONSUMER_DEFAULTS.requestTimeoutMs, 1),
    connectionTimeoutMs: msOption('connectionTimeoutMs', config.connectionTimeoutMs, CONSUMER_DEFAULTS.connectionTimeoutMs, 1),
    logger: config.logger,
    logLevel: config.logLevel,
    valueFraming,
    maxFetchDecodedBytes,
    maxInFlightDecodedBytes,
  };
}
