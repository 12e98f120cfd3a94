/**
 * Transactions: `BeginTransaction`, `AddPartitionsToTxn` (each partition once), `TransactionalPublish`,
 * `AddOffsetsToTxn`, `CommitTransaction` / `AbortTransaction`, with the epoch from `InitProducerId`.
 * `transaction$(work)` runs `work` inside a transaction: commit when it completes, abort (and
 * re-throw, typed) when it fails. A fenced producer (a newer epoch exists) refuses everything after.
 *
 * rivvend 0.0.22 specifics this class works with (see the README's "Transactions" limits):
 * - The broker keeps no transactional id → producer id mapping: a restarted instance resumes (and
 *   fences) its predecessor only if it passes the predecessor's `producerId` as `previousProducerId`.
 * - Bumping the epoch does not abort the predecessor's open transaction; beginning one then fails
 *   with `PRODUCER_FENCED: expected epoch <old>, got <new>`. `begin$()` recognises that answer,
 *   aborts the stale transaction with the old epoch (which the broker allows) and begins again;
 *   `create$` does this once up front when resuming, so a late commit of the predecessor cannot land.
 * - A transaction idle past its timeout and then touched is marked Dead and never aborted (its
 *   records stay visible to read_committed): abort instead of continuing close to the timeout.
 * - Idempotence sequences are tracked per (producer id, partition number), whatever the topic.
 * - Producer ids and open transactions live in the broker's memory: after a restart every request
 *   of the producer is `UNKNOWN_PRODUCER_ID` / `INVALID_TXN_ID`. The producer then re-initialises
 *   its id (passing its own, so the id stays the same), and the transaction that was open fails with
 *   a `TransactionInterruptedError` (retriable): run it again.
 *
 * Connections: one at a time, opened on demand along `bootstrapServers` (failover walks the list)
 * and re-opened after it failed; a transaction whose connection broke fails typed and retriable.
 */
import { Observable, defer, firstValueFrom, ignoreElements, lastValueFrom, map, timer, toArray, catchError } from 'rxjs';
import type { Client } from '../client/client.js';
import { backoffDelay } from '../client/backoff.js';
import type { Bytes, ProducerIdentity } from '../client/client-types.js';
import {
  CONNECTION_SETTING_KEYS,
  backoffOf,
  resolveBootstrapServers,
  resolveRetryPolicy,
  type ConnectionSettings,
  type ResolvedRetryPolicy,
} from '../connection-settings.js';
import { MAX_TIMER_MS, describeValue, integerIn, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import { AllServersUnavailableError, ConfigError, ConnectionError, ProducerFencedError, ServerError, TimeoutError, TransactionInterruptedError } from '../errors.js';
import { murmur2Partition } from '../protocol/murmur2.js';
import { validateConnectionOptions } from '../transport/connection-options.js';
import { singleLane, type LaneHandle } from '../client/server-lanes.js';

/** The producer's one connection: reconnects itself (with failover) after a failure. */
type TransactionConnection = LaneHandle & { close(): Promise<void> };
import { isLostProducerState } from './idempotence.js';
import { laneClientOptions } from './producer-config.js';
import { Trace, isTraced, transactionChannel, type TransactionTraceMessage } from '../observability/channels.js';
import { Log, createLog } from '../observability/log.js';

/**
 * The shared connection settings (connection-settings.ts) plus the transaction's own options.
 * `clientId` defaults to the `transactionalId`. `retry` paces the attempts to reach a broker in
 * `create$` (each attempt walks the whole `bootstrapServers` list); by default one attempt is made.
 * Requests of a transaction are never repeated behind the caller's back: a failed transaction
 * fails typed (retriable ones as `TransactionInterruptedError`) for the caller to run again.
 */
export interface TransactionalProducerConfig extends ConnectionSettings {
  /** Names this producer's transactions; keep it the same across restarts of one logical producer. */
  transactionalId: string;
  /** The broker aborts a transaction idle (no request) for longer than this. Default 60,000 ms. */
  transactionTimeoutMs?: number;
  /**
   * Resume (and fence) an earlier producer id: its epoch is bumped, older instances are fenced, and
   * a transaction the predecessor left open is aborted before `create$` emits. Keep the
   * `transactionalId` the same across restarts and store `identity.producerId` to pass here.
   */
  previousProducerId?: bigint;
}

const CONFIG_KEYS: readonly string[] = [...CONNECTION_SETTING_KEYS, 'transactionalId', 'transactionTimeoutMs', 'previousProducerId'];

/** The nested connection options of earlier versions: their keys are top-level settings now. */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  client: 'the connection settings themselves at the top level (clientId, tls, auth, socketFactory, connectionTimeoutMs, requestTimeoutMs, retry, logger, logLevel)',
};

/** One pass over the bootstrap list unless `retry` asks for more. */
const DEFAULT_TRANSACTIONAL_RETRY: Readonly<ResolvedRetryPolicy> = Object.freeze({
  maxAttempts: 1,
  initialDelayMs: 100,
  maxDelayMs: 1_000,
  multiplier: 2,
  jitter: 0.25,
});

interface ResolvedTransactionalConfig {
  servers: string[];
  transactionalId: string;
  transactionTimeoutMs: number;
  previousProducerId: bigint | undefined;
  retry: ResolvedRetryPolicy;
  connection: ReturnType<typeof laneClientOptions>;
}

/** Check every option, refusing unknown keys with the closest name (before any socket exists). */
function resolveTransactionalConfig(input: TransactionalProducerConfig): ResolvedTransactionalConfig {
  const config = optionsObject<TransactionalProducerConfig>('TransactionalProducer', input);
  rejectUnknownKeys('TransactionalProducer', config, CONFIG_KEYS, FORMER_NAMES);
  const servers = resolveBootstrapServers(config.bootstrapServers);
  if (typeof config.transactionalId !== 'string' || config.transactionalId.length === 0) {
    throw new ConfigError('transactionalId', `must be a non-empty string, got ${describeValue(config.transactionalId)}`);
  }
  const transactionTimeoutMs = integerIn('transactionTimeoutMs', config.transactionTimeoutMs ?? 60_000, 1, MAX_TIMER_MS);
  if (config.previousProducerId !== undefined && typeof config.previousProducerId !== 'bigint') {
    throw new ConfigError('previousProducerId', `expected a bigint (identity.producerId of the predecessor), got ${describeValue(config.previousProducerId)}`);
  }
  const retry = resolveRetryPolicy(config.retry, DEFAULT_TRANSACTIONAL_RETRY);
  const connection = laneClientOptions({ ...config, clientId: config.clientId ?? config.transactionalId });
  validateConnectionOptions(connection, 'TransactionalProducer');
  return { servers, transactionalId: config.transactionalId, transactionTimeoutMs, previousProducerId: config.previousProducerId, retry, connection };
}

/** A ready client, trying the whole list again (with backoff) up to `retry.maxAttempts` times. */
async function firstClient(connection: TransactionConnection, retry: ResolvedRetryPolicy): Promise<Client> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connection.client();
    } catch (error) {
      // Only "no server answered" is worth another pass; a refusal (credentials, TLS) is final.
      if (!(error instanceof AllServersUnavailableError) || attempt >= retry.maxAttempts) throw error;
      await firstValueFrom(timer(backoffDelay(attempt - 1, backoffOf(retry))));
    }
  }
}

export interface TransactionalRecord {
  topic: string;
  value: Bytes;
  key?: Bytes;
  partition?: number;
}

export interface TransactionalResult {
  topic: string;
  partition: number;
  /** Offset of the record; visible to read_committed consumers once the transaction commits. */
  offset: bigint;
}

const FENCING_CODES = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);
/** `begin` answered by the broker when an older epoch of this producer id still has a transaction open. */
const STALE_EPOCH = /PRODUCER_FENCED: expected epoch (\d+), got (\d+)/;

export class TransactionalProducer {
  /** How many transactions left open by an earlier epoch of this producer id `begin$()` aborted. */
  staleTransactionsAborted = 0;
  private fenced: ProducerFencedError | undefined;
  /** When the last request that refreshed the broker's activity clock of the open transaction was sent. */
  private lastTouchSentAt = 0;
  /** An abort (of the transaction of this identity) failed to reach the broker; begin$() retries it first. */
  private abortPending: ProducerIdentity | undefined;
  /** The broker lost this producer's id (a restart) and re-initialising it has not succeeded yet. */
  private needsReinit = false;
  /** The identity the open transaction began with. */
  private transactionIdentity: ProducerIdentity | undefined;
  /** Errors this class raised itself (not a sign of a broken connection). */
  private readonly ownErrors = new WeakSet<Error>();
  private open = false;
  private readonly partitionsInTxn = new Set<string>();
  /** Next sequence per partition number: the broker keys sequences by (producer id, partition) only. */
  private readonly sequences = new Map<number, number>();
  private readonly partitionCounts = new Map<string, number>();
  private currentIdentity: ProducerIdentity;
  /** The connection the open transaction began on: on another one, the broker may have restarted since. */
  private transactionClient: Client | undefined;
  /** Times the producer id was re-initialised because the broker had lost it (a restart). */
  producerIdResets = 0;
  /** `rivven-rx:transaction` of the open transaction (only while someone listens). */
  private trace: Trace<TransactionTraceMessage> | undefined;

  private constructor(
    private readonly connection: TransactionConnection,
    identity: ProducerIdentity,
    readonly config: Readonly<{ transactionalId: string; transactionTimeoutMs: number }>,
    private readonly log: Log = Log.silent,
  ) {
    this.currentIdentity = identity;
  }

  /** End the open transaction's trace: committed or aborted, or failed with `error`. */
  private endTrace(outcome: 'commit' | 'abort', error?: unknown): void {
    const trace = this.trace;
    if (trace === undefined) return;
    this.trace = undefined;
    trace.message.outcome = outcome;
    if (error === undefined) trace.finish();
    else trace.fail(error);
  }

  /** The producer id and epoch in use (the id stays the same across re-initialisations). */
  get identity(): ProducerIdentity {
    return this.currentIdentity;
  }

  /** Connect and obtain a producer id and epoch. */
  static create$(config: TransactionalProducerConfig): Observable<TransactionalProducer> {
    return defer(async () => {
      const resolved = resolveTransactionalConfig(config);
      const connection = singleLane({ bootstrapServers: resolved.servers, client: resolved.connection, closedMessage: 'the producer is closed' });
      try {
        const client = await firstClient(connection, resolved.retry);
        const identity = await firstValueFrom(client.initProducerId$(resolved.previousProducerId));
        const log = createLog('transactional-producer', config.logger, config.logLevel, { transactionalId: resolved.transactionalId });
        const producer = new TransactionalProducer(
          connection,
          identity,
          { transactionalId: resolved.transactionalId, transactionTimeoutMs: resolved.transactionTimeoutMs },
          log,
        );
        if (resolved.previousProducerId !== undefined) {
          // Settle the predecessor's open transaction (abort it) before anyone reads the group's
          // committed offsets: afterwards it can neither commit late nor stay visible.
          await lastValueFrom(producer.begin$(), { defaultValue: undefined });
          await lastValueFrom(producer.abort$(), { defaultValue: undefined });
        }
        return producer;
      } catch (error) {
        await connection.close();
        throw error;
      }
    });
  }

  /** Run `work` in a transaction: commit on completion, abort on error (the error is re-thrown). */
  transaction$<T>(work: (txn: TransactionalProducer) => Observable<T>): Observable<T[]> {
    return defer(async () => {
      await lastValueFrom(this.begin$(), { defaultValue: undefined });
      try {
        const results = await lastValueFrom(work(this).pipe(toArray()));
        await lastValueFrom(this.commit$(), { defaultValue: undefined });
        return results;
      } catch (error) {
        if (this.open) {
          // If the abort cannot be sent now, the next begin$() sends it first: beginning again with
          // the same id and epoch would otherwise resume this transaction, writes and all.
          const identity = this.transactionIdentity;
          await lastValueFrom(this.abort$(), { defaultValue: undefined }).catch(() => (this.abortPending ??= identity));
        }
        throw error;
      }
    });
  }

  begin$(): Observable<void> {
    return this.guard$(async () => {
      const client = await this.connection.client();
      if (this.abortPending !== undefined) {
        await firstValueFrom(client.abortTransaction$(this.config.transactionalId, this.abortPending), { defaultValue: undefined }).catch((error: unknown) => {
          // Gone already (reaped, aborted, or lost in a broker restart): nothing left to abort.
          if (!(error instanceof ServerError && (error.serverCode === 'INVALID_TXN_ID' || isLostProducerState(error)))) throw error;
        });
        this.abortPending = undefined;
        this.open = false;
      }
      if (this.needsReinit) await this.reinitialise(client);
      if (this.open) throw this.own(new ConfigError('transaction', 'a transaction is already open; commit or abort it first'));
      let sentAt = Date.now();
      const trace = isTraced(transactionChannel)
        ? new Trace<TransactionTraceMessage>(transactionChannel, {
            transactionalId: this.config.transactionalId,
            producerId: this.identity.producerId,
            producerEpoch: this.identity.producerEpoch,
          })
        : undefined;
      try {
        await this.beginOnBroker(client);
      } catch (error) {
        const staleEpoch = this.staleEpochOf(error);
        if (staleEpoch === undefined) {
          trace?.fail(error);
          throw error;
        }
        // A predecessor (same producer id, older epoch) died or was fenced with a transaction open.
        // Abort it now rather than wait for the broker's transaction timeout; then begin ours.
        await firstValueFrom(client.abortTransaction$(this.config.transactionalId, { producerId: this.identity.producerId, producerEpoch: staleEpoch }), {
          defaultValue: undefined,
        });
        this.staleTransactionsAborted++;
        sentAt = Date.now();
        try {
          await this.beginOnBroker(client);
        } catch (again) {
          trace?.fail(again);
          throw again;
        }
      }
      this.trace = trace;
      this.open = true;
      this.transactionClient = client;
      this.transactionIdentity = this.identity;
      this.lastTouchSentAt = sentAt;
      this.partitionsInTxn.clear();
    });
  }

  private async beginOnBroker(client: Client): Promise<void> {
    await firstValueFrom(client.beginTransaction$(this.config.transactionalId, this.identity, this.config.transactionTimeoutMs), {
      defaultValue: undefined,
    });
  }

  /**
   * The connection for a request of the open transaction. If it is not the one the transaction
   * began on, the broker may have restarted meanwhile (and forgotten the transaction): the
   * transaction is interrupted rather than continued on a guess.
   */
  private async transactionConnection(): Promise<Client> {
    const client = await this.connection.client();
    if (this.open && this.transactionClient !== undefined && client !== this.transactionClient) {
      this.interrupt();
      throw this.own(new TransactionInterruptedError('the connection to the broker was re-established during the transaction (the broker may have restarted)'));
    }
    return client;
  }

  /** The open transaction cannot go on: the next begin$() aborts it first (if the broker still has it). */
  private interrupt(): void {
    if (this.open) this.abortPending ??= this.transactionIdentity;
    this.endTrace('abort', new TransactionInterruptedError('the transaction was interrupted (connection re-established or failed)'));
    this.open = false;
    this.transactionClient = undefined;
  }

  /**
   * Obtain our producer id again (passing it, so it stays the same; the broker restarts its epoch
   * at 0 when it has forgotten it) with fresh sequences.
   */
  private async reinitialise(client: Client): Promise<void> {
    const identity = await firstValueFrom(client.initProducerId$(this.identity.producerId));
    this.currentIdentity = identity;
    this.sequences.clear();
    this.needsReinit = false;
    this.producerIdResets++;
    this.log.warn('producer id re-initialised: the broker had lost it (a restart)', {
      producerId: identity.producerId,
      producerEpoch: identity.producerEpoch,
      resets: this.producerIdResets,
    });
  }

  /** The broker forgot this producer (a restart): give up the open transaction and re-initialise. */
  private async recoverLostState(): Promise<void> {
    const stale = this.open ? this.transactionIdentity : undefined;
    this.endTrace('abort', new TransactionInterruptedError('the broker no longer knows this producer (it restarted)'));
    this.open = false;
    this.transactionClient = undefined;
    this.needsReinit = true;
    this.sequences.clear();
    try {
      const client = await this.connection.client();
      if (stale !== undefined) {
        // Begun on the restarted broker before the loss showed: abort it with the epoch it began with.
        await firstValueFrom(client.abortTransaction$(this.config.transactionalId, stale), { defaultValue: undefined }).catch(() => (this.abortPending ??= stale));
      }
      await this.reinitialise(client);
    } catch {
      // Unreachable again: begin$() re-initialises first.
    }
  }

  private own<E extends Error>(error: E): E {
    this.ownErrors.add(error);
    return error;
  }

  /** The older epoch named by a `begin` refusal, when it is older than ours (then we are not the fenced one). */
  private staleEpochOf(error: unknown): number | undefined {
    if (!(error instanceof ServerError)) return undefined;
    const match = STALE_EPOCH.exec(error.serverMessage);
    if (match === null) return undefined;
    const [expected, received] = [Number(match[1]), Number(match[2])];
    return received === this.identity.producerEpoch && expected < received ? expected : undefined;
  }

  /** Publish one record inside the open transaction. */
  send$(record: TransactionalRecord): Observable<TransactionalResult> {
    return this.publish$([record]).pipe(map((results) => results[0]!));
  }

  /**
   * Publish records inside the open transaction, pipelined on the connection (the broker handles a
   * connection's requests in order, so sequences stay in order); emits their results in input order.
   * New partitions are added to the transaction first, in one request.
   */
  publish$(records: readonly TransactionalRecord[]): Observable<TransactionalResult[]> {
    return this.guard$(async () => {
      if (!this.open) throw this.own(new ConfigError('transaction', 'no open transaction: call begin$() or use transaction$()'));
      const client = await this.transactionConnection();
      const partitions = await Promise.all(records.map((record) => this.partitionFor(record, client)));
      await this.abortIfNearTimeout(client);
      const added = new Map<string, readonly [string, number]>();
      records.forEach((record, i) => {
        const key = `${record.topic}\u0000${partitions[i]!}`;
        if (!this.partitionsInTxn.has(key)) added.set(key, [record.topic, partitions[i]!]);
      });
      const sentAt = Date.now();
      if (added.size > 0) {
        await firstValueFrom(client.addPartitionsToTxn$(this.config.transactionalId, this.identity, [...added.values()]));
        for (const key of added.keys()) this.partitionsInTxn.add(key);
      }
      const sequences = records.map((_, i) => {
        const sequence = this.sequences.get(partitions[i]!) ?? 0;
        this.sequences.set(partitions[i]!, sequence + 1);
        return sequence;
      });
      const settled = await Promise.allSettled(
        records.map((record, i) =>
          firstValueFrom(
            client.transactionalPublish$(
              this.config.transactionalId,
              record.topic,
              { value: record.value, key: record.key, partition: partitions[i]! },
              this.identity,
              sequences[i]!,
            ),
          ),
        ),
      );
      if (settled.some((s) => s.status === 'fulfilled')) this.lastTouchSentAt = sentAt;
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure !== undefined) {
        this.resyncSequences(partitions, sequences, settled);
        throw failure.reason;
      }
      return settled.map((s, i) => {
        const result = (s as PromiseFulfilledResult<{ partition: number; offset: bigint }>).value;
        return { topic: records[i]!.topic, partition: result.partition, offset: result.offset };
      });
    });
  }

  /** After a partly failed pipeline, continue each partition's sequence after its last accepted record. */
  private resyncSequences(partitions: number[], sequences: number[], settled: PromiseSettledResult<unknown>[]): void {
    const next = new Map<number, number>();
    partitions.forEach((partition, i) => {
      if (!next.has(partition)) next.set(partition, sequences[i]!);
      if (settled[i]!.status === 'fulfilled') next.set(partition, Math.max(next.get(partition)!, sequences[i]! + 1));
    });
    for (const [partition, sequence] of next) this.sequences.set(partition, sequence);
  }

  /** Commit consumed offsets (the next offset to read, per topic-partition) with the transaction. */
  sendOffsets$(groupId: string, offsets: readonly (readonly [topic: string, partition: number, nextOffset: bigint])[]): Observable<void> {
    return this.guard$(async () => {
      if (!this.open) throw this.own(new ConfigError('transaction', 'no open transaction'));
      const client = await this.transactionConnection();
      await this.abortIfNearTimeout(client);
      const sentAt = Date.now();
      await firstValueFrom(client.addOffsetsToTxn$(this.config.transactionalId, this.identity, groupId, offsets), { defaultValue: undefined });
      this.lastTouchSentAt = sentAt;
    });
  }

  commit$(): Observable<void> {
    return this.guard$(async () => {
      const client = await this.transactionConnection();
      if (this.open) await this.abortIfNearTimeout(client);
      await this.end('commit', client.commitTransaction$(this.config.transactionalId, this.identity));
    });
  }

  abort$(): Observable<void> {
    return this.guard$(async () => {
      const client = await this.transactionConnection();
      await this.end('abort', client.abortTransaction$(this.config.transactionalId, this.identity));
    });
  }

  /** Send the commit or abort; once the broker took it, no transaction is open. */
  private async end(outcome: 'commit' | 'abort', request$: Observable<void>): Promise<void> {
    try {
      await firstValueFrom(request$, { defaultValue: undefined });
    } catch (error) {
      this.endTrace(outcome, error);
      throw error;
    }
    this.endTrace(outcome);
    this.open = false;
    this.transactionClient = undefined;
  }

  /**
   * rivvend marks a transaction Dead when a publish, AddOffsets or commit arrives after its timeout
   * (idle time since its last request) and the reaper has not run yet — and a Dead transaction is
   * never aborted, so its records stay visible to read_committed readers. An abort is still
   * accepted then, so: close to the timeout, abort instead of sending (counted from when our last
   * request was *sent*, which is never later than the broker's clock saw it).
   */
  private async abortIfNearTimeout(client: Client): Promise<void> {
    const idle = Date.now() - this.lastTouchSentAt;
    const limit = this.config.transactionTimeoutMs - Math.max(100, this.config.transactionTimeoutMs / 10);
    if (idle <= limit) return;
    await firstValueFrom(client.abortTransaction$(this.config.transactionalId, this.identity), { defaultValue: undefined }).catch(() => undefined);
    this.open = false;
    this.transactionClient = undefined;
    this.endTrace('abort', new TimeoutError(`the transaction was idle ${idle} ms, close to its timeout: aborted`));
    throw this.own(new TimeoutError(
      `the transaction was idle ${idle} ms, too close to its ${this.config.transactionTimeoutMs} ms timeout (transactionTimeoutMs) to continue safely; ` +
        'it was aborted — raise transactionTimeoutMs or keep transactions shorter',
    ));
  }

  isFenced(): boolean {
    return this.fenced !== undefined;
  }

  async close(): Promise<void> {
    if (this.open && !this.fenced) await lastValueFrom(this.abort$().pipe(ignoreElements(), catchError(() => [])), { defaultValue: undefined });
    await this.connection.close();
  }

  private async partitionFor(record: TransactionalRecord, client: Client): Promise<number> {
    if (record.partition !== undefined) return record.partition;
    let count = this.partitionCounts.get(record.topic);
    if (count === undefined) {
      count = (await firstValueFrom(client.getMetadata$(record.topic))).partitions;
      this.partitionCounts.set(record.topic, count);
    }
    const key = record.key === undefined ? undefined : typeof record.key === 'string' ? Buffer.from(record.key) : record.key;
    return key === undefined ? Math.floor(Math.random() * count) : murmur2Partition(key, count);
  }

  /**
   * Our open transaction vanished (`INVALID_TXN_ID`) although it cannot have timed out: only a
   * successor that bumped our epoch aborts it (see create$), so we are fenced. (A broker restart,
   * the other way a transaction vanishes, also drops this producer's connection; requests of the
   * transaction on a new connection are refused as interrupted before they are sent.)
   */
  private abortedByOther(serverCode: string): boolean {
    return serverCode === 'INVALID_TXN_ID' && this.open && Date.now() - this.lastTouchSentAt < this.config.transactionTimeoutMs;
  }

  /** Run an operation unless fenced; turn fencing replies into ProducerFencedError and remember it. */
  private guard$<T>(operation: () => Promise<T>): Observable<T> {
    return defer(async () => {
      if (this.fenced) throw this.fenced;
      try {
        return await operation();
      } catch (error) {
        if (error instanceof ServerError && error.serverCode !== undefined && (FENCING_CODES.has(error.serverCode) || this.abortedByOther(error.serverCode))) {
          this.fenced = new ProducerFencedError(error.serverMessage, { cause: error });
          this.endTrace('abort', this.fenced);
          this.open = false;
          this.log.error('fenced: a newer instance of this transactional id took over; this producer refuses everything from now on (close it)', {
            producerId: this.identity.producerId,
            producerEpoch: this.identity.producerEpoch,
            errorCode: error.serverCode,
          });
          throw this.fenced;
        }
        if (error instanceof TransactionInterruptedError || (error instanceof Error && this.ownErrors.has(error))) throw error;
        if (error instanceof ConnectionError || error instanceof TimeoutError || error instanceof AllServersUnavailableError) {
          // Connect again (along the list) next time; the open transaction's fate is unknown.
          this.connection.reset();
          if (!this.open) throw error;
          this.interrupt();
          throw new TransactionInterruptedError(`the connection to the broker failed (${error.message})`, { cause: error });
        }
        if (isLostProducerState(error)) {
          const wasOpen = this.open;
          await this.recoverLostState();
          if (wasOpen) throw new TransactionInterruptedError(`the broker no longer knows this producer (${(error as ServerError).serverMessage}); it restarted`, { cause: error });
        }
        throw error;
      }
    });
  }
}
