/**
 * The typed operations: every one checks its arguments before anything is sent (a user's type
 * mistake is a ConfigError, not retriable, naming the argument, what was given and what is
 * expected), and a reply other than the expected one becomes a typed error. The operations are
 * given a `BrokerExchange`, so a recording stand-in is all they need.
 */
import { EMPTY, type Observable, firstValueFrom, of } from 'rxjs';
import { BrokerOperations } from '../../src/client/broker-operations';
import { ConfigError, ProtocolError, ServerError, ThrottledError } from '../../src/errors';
import { encodeRequestFrame } from '../../src/protocol/frame';
import type { RequestInput } from '../../src/protocol/request-schema';
import type { Response } from '../../src/protocol/response-schema';
import type { RequestOptions } from '../../src/transport/connection-types';

/** Operations over an exchange that records what it is asked to send and answers with `replies` (nothing by default). */
function recording(...replies: Response[]) {
  const sent: RequestInput[] = [];
  const options: (RequestOptions | undefined)[] = [];
  const ops = new BrokerOperations({
    send$: (request, requestOptions) => {
      sent.push(request);
      options.push(requestOptions);
      return replies.length === 0 ? EMPTY : of(...replies);
    },
  });
  return { ops, sent, options };
}

const producer = { producerId: 1n, producerEpoch: 0 };
// Casts stand for what a JavaScript caller (or a loosely typed TypeScript one) may pass.
const bad = <T>(value: unknown): T => value as T;

type Call = (ops: BrokerOperations) => Observable<unknown>;

const invalid: [operation: string, argument: string, call: Call, given: RegExp][] = [
  ['publish$', 'topic', (o) => o.publish$(bad(42), { value: 'v' }), /got 42 \(a number\)/],
  ['publish$', 'topic', (o) => o.publish$('', { value: 'v' }), /non-empty string/],
  ['publish$', 'topic', (o) => o.publish$('t'.repeat(257), { value: 'v' }), /at most 256 bytes/],
  ['publish$', 'record', (o) => o.publish$('t', bad(null)), /got null/],
  ['publish$', 'record.value', (o) => o.publish$('t', { value: bad({ id: 1 }) }), /serialise it first/],
  ['publish$', 'record.value', (o) => o.publish$('t', { value: bad(42) }), /bytes .* or a string, got 42/],
  ['publish$', 'record.key', (o) => o.publish$('t', { value: 'v', key: bad(5) }), /got 5 \(a number\)/],
  ['publish$', 'record.partition', (o) => o.publish$('t', { value: 'v', partition: 1.5 }), /got 1\.5/],
  ['publish$', 'record.partition', (o) => o.publish$('t', { value: 'v', partition: -1 }), /got -1/],
  ['publish$', 'record.partition', (o) => o.publish$('t', { value: 'v', partition: bad('0') }), /got "0" \(a string\)/],
  ['publish$', 'record.leaderEpoch', (o) => o.publish$('t', { value: 'v', leaderEpoch: bad(3) }), /write 3n/],
  ['publish$', 'record.headers', (o) => o.publish$('t', bad({ value: 'v', headers: [] })), /no option 'headers'/],
  ['publishBatch$', 'records', (o) => o.publishBatch$('t', []), /1 to 10000 items/],
  ['publishBatch$', 'records', (o) => o.publishBatch$('t', bad('abc')), /an array/],
  ['publishBatch$', 'records', (o) => o.publishBatch$('t', Array.from({ length: 10_001 }, () => ({ value: 'v' }))), /an array of 10001/],
  ['publishBatch$', 'records[1].value', (o) => o.publishBatch$('t', [{ value: 'a' }, { value: bad(7) }]), /got 7/],
  ['publishBatch$', 'options.partition', (o) => o.publishBatch$('t', [{ value: 'a' }], { partition: 2.5 }), /got 2\.5/],
  ['publishBatch$', 'options.partiton', (o) => o.publishBatch$('t', [{ value: 'a' }], bad({ partiton: 1 })), /did you mean 'partition'/],
  ['consume$', 'options.offset', (o) => o.consume$('t', { partition: 0, offset: bad(0), maxMessages: 1 }), /got 0 \(a number\); write 0n/],
  ['consume$', 'options.offset', (o) => o.consume$('t', { partition: 0, offset: -1n, maxMessages: 1 }), /got -1n/],
  ['consume$', 'options.partition', (o) => o.consume$('t', { partition: 0.5, offset: 0n, maxMessages: 1 }), /got 0\.5/],
  ['consume$', 'options.maxMessages', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: -1 }), /1\.\.4294967295, got -1/],
  ['consume$', 'options.maxMessages', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 0 }), /got 0/],
  ['consume$', 'options.maxMessages', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: bad(10n) }), /write 10 without the n/],
  ['consume$', 'options.isolationLevel', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 1, isolationLevel: bad('committed') }), /'read_uncommitted', 'read_committed'/],
  ['consume$', 'options.maxWaitMs', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 1, maxWaitMs: -5 }), /got -5/],
  ['consume$', 'options.requestTimeoutMs', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 1, requestTimeoutMs: 1.5 }), /got 1\.5/],
  ['consume$', 'options.valueFraming', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 1, valueFraming: bad('zstd') }), /'detect', 'rivven-core', 'raw'/],
  ['consume$', 'options.maxDecodedBytes', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 1, maxDecodedBytes: 0 }), /got 0/],
  ['consume$', 'options.maxWait', (o) => o.consume$('t', bad({ partition: 0, offset: 0n, maxMessages: 1, maxWait: 100 })), /did you mean 'maxWaitMs'/],
  ['consume$', 'options', (o) => o.consume$('t', bad(undefined)), /an object, got undefined/],
  ['createTopic$', 'name', (o) => o.createTopic$(bad(5)), /got 5/],
  ['createTopic$', 'partitions', (o) => o.createTopic$('t', 1.5), /got 1\.5/],
  ['createTopic$', 'partitions', (o) => o.createTopic$('t', bad('3')), /got "3"/],
  ['deleteTopic$', 'name', (o) => o.deleteTopic$(bad(undefined)), /got undefined/],
  ['getMetadata$', 'topic', (o) => o.getMetadata$(bad(null)), /got null/],
  ['getClusterMetadata$', 'topics', (o) => o.getClusterMetadata$(bad('orders')), /an array/],
  ['getClusterMetadata$', 'topics[0]', (o) => o.getClusterMetadata$(bad([1])), /got 1/],
  ['getOffsetBounds$', 'partition', (o) => o.getOffsetBounds$('t', NaN), /got NaN/],
  ['getOffsetForTimestamp$', 'timestamp', (o) => o.getOffsetForTimestamp$('t', 0, 1.5), /got 1\.5/],
  ['getOffsetForTimestamp$', 'timestamp', (o) => o.getOffsetForTimestamp$('t', 0, new Date('not a date')), /a valid Date/],
  ['getOffsetForTimestamp$', 'timestamp', (o) => o.getOffsetForTimestamp$('t', 0, bad('2020-01-01')), /got "2020-01-01"/],
  ['commitOffset$', 'offset', (o) => o.commitOffset$('g', 't', 0, -1), /got -1/],
  ['commitOffset$', 'offset', (o) => o.commitOffset$('g', 't', 0, bad('5')), /got "5"/],
  ['commitOffset$', 'group', (o) => o.commitOffset$(bad(3), 't', 0, 0n), /got 3/],
  ['getOffset$', 'partition', (o) => o.getOffset$('g', 't', -1), /got -1/],
  ['describeGroup$', 'group', (o) => o.describeGroup$(''), /non-empty/],
  ['deleteGroup$', 'group', (o) => o.deleteGroup$(bad(7)), /got 7/],
  ['describeTopicConfigs$', 'topics[0]', (o) => o.describeTopicConfigs$(bad([null])), /got null/],
  ['alterTopicConfig$', 'configs', (o) => o.alterTopicConfig$('t', bad(null)), /got null/],
  ["alterTopicConfig$", "configs['retention.ms']", (o) => o.alterTopicConfig$('t', bad({ 'retention.ms': 3600000 })), /a string \(set\) or null/],
  ['createPartitions$', 'newPartitionCount', (o) => o.createPartitions$('t', 2.5), /got 2\.5/],
  ['createPartitions$', 'assignments[0][0]', (o) => o.createPartitions$('t', 3, bad([[1]])), /got 1/],
  ['deleteRecords$', 'partitionOffsets[0][1]', (o) => o.deleteRecords$('t', bad([[0, 5]])), /write 5n/],
  ['deleteRecords$', 'partitionOffsets[0][0]', (o) => o.deleteRecords$('t', [[-1, 0n]]), /got -1/],
  ['deleteRecords$', 'partitionOffsets[0]', (o) => o.deleteRecords$('t', bad([0])), /pair/],
  ['describeQuotas$', 'entities[0][0]', (o) => o.describeQuotas$(bad([[5]])), /got 5/],
  ['alterQuotas$', 'alterations[0].quotaValue', (o) => o.alterQuotas$([{ entityType: 'user', quotaKey: 'request_rate', quotaValue: bad(5) }]), /write 5n/],
  ['initProducerId$', 'previousProducerId', (o) => o.initProducerId$(bad(5)), /write 5n/],
  ['idempotentPublish$', 'producer.producerId', (o) => o.idempotentPublish$('t', { value: 'v' }, bad({ producerId: 1, producerEpoch: 0 }), 0), /write 1n/],
  ['idempotentPublish$', 'sequence', (o) => o.idempotentPublish$('t', { value: 'v' }, producer, -1), /got -1/],
  ['idempotentPublish$', 'sequence', (o) => o.idempotentPublish$('t', { value: 'v' }, producer, 1.5), /got 1\.5/],
  ['idempotentPublishBatch$', 'baseSequence', (o) => o.idempotentPublishBatch$('t', [{ value: 'v' }], producer, bad('0')), /got "0"/],
  ['idempotentPublishBatch$', 'producer.producerEpoch', (o) => o.idempotentPublishBatch$('t', [{ value: 'v' }], { producerId: 1n, producerEpoch: 70_000 }, 0), /0\.\.65535/],
  ['beginTransaction$', 'timeoutMs', (o) => o.beginTransaction$('tx', producer, -1), /got -1/],
  ['beginTransaction$', 'txnId', (o) => o.beginTransaction$('', producer), /non-empty/],
  ['addPartitionsToTxn$', 'partitions[0][1]', (o) => o.addPartitionsToTxn$('tx', producer, [['t', -1]]), /got -1/],
  ['transactionalPublish$', 'record.value', (o) => o.transactionalPublish$('tx', 't', bad({}), producer, 0), /got undefined/],
  ['addOffsetsToTxn$', 'offsets[0][2]', (o) => o.addOffsetsToTxn$('tx', producer, 'g', bad([['t', 0, 5]])), /write 5n/],
  ['commitTransaction$', 'producer', (o) => o.commitTransaction$('tx', bad(null)), /an object, got null/],
  ['abortTransaction$', 'txnId', (o) => o.abortTransaction$(bad(5), producer), /got 5/],
  ['joinGroup$', 'options.sessionTimeoutMs', (o) => o.joinGroup$('g', '', { sessionTimeoutMs: -1, rebalanceTimeoutMs: 1000, subscriptions: ['t'] }), /got -1/],
  ['joinGroup$', 'options.subscriptions', (o) => o.joinGroup$('g', '', { sessionTimeoutMs: 1, rebalanceTimeoutMs: 1, subscriptions: bad('t') }), /an array/],
  ['joinGroup$', 'options.sessionTimeout', (o) => o.joinGroup$('g', '', bad({ sessionTimeout: 1, rebalanceTimeoutMs: 1, subscriptions: [] })), /did you mean 'sessionTimeoutMs'/],
  ['syncGroup$', 'generationId', (o) => o.syncGroup$('g', -1, 'm'), /got -1/],
  ['syncGroup$', 'assignments[0][1][0][1][0]', (o) => o.syncGroup$('g', 1, 'm', [['m', [['t', [1.5]]]]]), /got 1\.5/],
  ['heartbeat$', 'generationId', (o) => o.heartbeat$('g', 1.5, 'm'), /got 1\.5/],
  ['leaveGroup$', 'groupId', (o) => o.leaveGroup$('', 'm'), /non-empty/],
];

describe('typed operations check their arguments before sending', () => {
  it.each(invalid)('%s: bad %s → ConfigError, nothing sent', async (operation, argument, call, given) => {
    const { ops, sent } = recording();
    const observable = call(ops);
    expect(sent).toHaveLength(0); // cold: nothing happens before subscription either
    const error = await firstValueFrom(observable).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const config = error as ConfigError;
    expect(config.option).toBe(argument);
    expect(config.retriable).toBe(false);
    expect(config.message).toContain(operation);
    expect(config.message).toMatch(given);
    expect(config.message).toContain('nothing was sent');
    expect(sent).toHaveLength(0);
  });

  const valid: [string, Call][] = [
    ['ping$', (o) => o.ping$()],
    ['publish$', (o) => o.publish$('t', { value: Buffer.from('v'), key: 'k', partition: 0, leaderEpoch: 1n })],
    ['publishBatch$', (o) => o.publishBatch$('t', [{ value: 'a' }, { key: new Uint8Array([1]), value: 'b' }], { partition: 1 })],
    ['consume$', (o) => o.consume$('t', { partition: 0, offset: 0n, maxMessages: 10, isolationLevel: 'read_committed', maxWaitMs: 100, requestTimeoutMs: 5_000, valueFraming: 'raw', maxDecodedBytes: 1024 })],
    ['createTopic$', (o) => o.createTopic$('t', 3)],
    ['createTopic$ (broker default partitions)', (o) => o.createTopic$('t')],
    ['listTopics$', (o) => o.listTopics$()],
    ['deleteTopic$', (o) => o.deleteTopic$('t')],
    ['getMetadata$', (o) => o.getMetadata$('t')],
    ['getClusterMetadata$', (o) => o.getClusterMetadata$(['t'])],
    ['getOffsetBounds$', (o) => o.getOffsetBounds$('t', 0)],
    ['getOffsetForTimestamp$', (o) => o.getOffsetForTimestamp$('t', 0, new Date(0))],
    ['commitOffset$ (number offset)', (o) => o.commitOffset$('g', 't', 0, 5)],
    ['getOffset$', (o) => o.getOffset$('g', 't', 0)],
    ['listGroups$', (o) => o.listGroups$()],
    ['describeGroup$', (o) => o.describeGroup$('g')],
    ['deleteGroup$', (o) => o.deleteGroup$('g')],
    ['describeTopicConfigs$', (o) => o.describeTopicConfigs$()],
    ['alterTopicConfig$', (o) => o.alterTopicConfig$('t', { 'retention.ms': '1000', 'cleanup.policy': null })],
    ['createPartitions$', (o) => o.createPartitions$('t', 4)],
    ['deleteRecords$', (o) => o.deleteRecords$('t', [[0, 5n]])],
    ['describeQuotas$', (o) => o.describeQuotas$([['user', 'alice'], ['client-id']])],
    ['alterQuotas$', (o) => o.alterQuotas$([{ entityType: 'user', entityName: 'alice', quotaKey: 'request_rate', quotaValue: 10n }])],
    ['initProducerId$', (o) => o.initProducerId$(7n)],
    ['idempotentPublish$', (o) => o.idempotentPublish$('t', { value: 'v' }, producer, 0)],
    ['idempotentPublishBatch$', (o) => o.idempotentPublishBatch$('t', [{ value: 'v' }], producer, 3)],
    ['beginTransaction$', (o) => o.beginTransaction$('tx', producer, 60_000)],
    ['addPartitionsToTxn$', (o) => o.addPartitionsToTxn$('tx', producer, [['t', 0]])],
    ['transactionalPublish$', (o) => o.transactionalPublish$('tx', 't', { value: 'v', key: undefined, partition: 0 }, producer, 0)],
    ['addOffsetsToTxn$', (o) => o.addOffsetsToTxn$('tx', producer, 'g', [['t', 0, 5n]])],
    ['commitTransaction$', (o) => o.commitTransaction$('tx', producer)],
    ['abortTransaction$', (o) => o.abortTransaction$('tx', producer)],
    ['joinGroup$', (o) => o.joinGroup$('g', '', { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, subscriptions: ['t'] })],
    ['syncGroup$', (o) => o.syncGroup$('g', 1, 'm', [['m', [['t', [0, 1]]]]])],
    ['heartbeat$', (o) => o.heartbeat$('g', 1, 'm')],
    ['leaveGroup$', (o) => o.leaveGroup$('g', 'm')],
  ];

  it.each(valid)('%s: valid arguments send exactly one request', async (_name, call) => {
    const { ops, sent } = recording();
    await firstValueFrom(call(ops), { defaultValue: undefined });
    expect(sent).toHaveLength(1);
  });

  it('covers every operation of BrokerOperations', () => {
    const operations = Object.getOwnPropertyNames(BrokerOperations.prototype).filter((n) => n.endsWith('$'));
    // Every subject is there (data, admin, transactions, groups): a list that came out empty would check nothing.
    expect(operations).toEqual(expect.arrayContaining(['publish$', 'alterQuotas$', 'commitTransaction$', 'joinGroup$']));
    const covered = new Set(valid.map(([name]) => name.split(' ')[0]!));
    expect(operations.filter((n) => !covered.has(n))).toEqual([]);
    const checked = new Set(invalid.map(([operation]) => operation));
    const withoutArguments = ['ping$', 'listTopics$', 'listGroups$'];
    expect(operations.filter((n) => !checked.has(n) && !withoutArguments.includes(n))).toEqual([]);
  });

  it('the encoder stays a backstop: a request built by hand with a wrong type is still refused (ProtocolError)', () => {
    // The raw request$ escape hatch has no argument checks; the encoder still refuses.
    const request = bad<RequestInput>({ type: 'Consume', topic: 't', partition: 0, offset: 0, maxMessages: 1 });
    expect(() => encodeRequestFrame(request, 1)).toThrow(ProtocolError);
  });
});

describe('consume$ request timeout', () => {
  it.each([
    ['no long poll: the connection default', {}, undefined],
    ['a long poll: maxWaitMs + 30 s', { maxWaitMs: 500 }, 30_500],
    ['requestTimeoutMs overrides it', { maxWaitMs: 500, requestTimeoutMs: 2_000 }, 2_000],
    ['requestTimeoutMs without a long poll', { requestTimeoutMs: 750 }, 750],
    ['requestTimeoutMs 0: no timeout', { maxWaitMs: 500, requestTimeoutMs: 0 }, 0],
  ])('%s', async (_name, extra, timeoutMs) => {
    const { ops, options } = recording();
    await firstValueFrom(ops.consume$('t', { partition: 0, offset: 0n, maxMessages: 1, ...extra }), { defaultValue: undefined });
    expect(options).toEqual([{ timeoutMs }]);
  });
});

describe('replies', () => {
  it('the expected reply is projected to the typed result', async () => {
    const { ops } = recording({ type: 'Published', offset: 7n, partition: 2 } as Response);
    await expect(firstValueFrom(ops.publish$('t', { value: 'v' }))).resolves.toEqual({ topic: 't', partition: 2, offset: 7n });
  });

  it('an Error reply is the typed server error, a Throttled reply a ThrottledError, any other reply a ProtocolError', async () => {
    const error = await firstValueFrom(recording({ type: 'Error', message: 'UNKNOWN_TOPIC_OR_PARTITION: t' } as Response).ops.getMetadata$('t')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).serverCode).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const throttled = await firstValueFrom(recording({ type: 'Throttled', throttleTimeMs: 250n, quotaType: 'request_rate', entity: 'u' } as Response).ops.listTopics$()).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(ThrottledError);
    expect((throttled as ThrottledError).throttleTimeMs).toBe(250n);
    const unexpected = await firstValueFrom(recording({ type: 'Pong' } as Response).ops.listTopics$()).catch((e: unknown) => e);
    expect(unexpected).toBeInstanceOf(ProtocolError);
    expect((unexpected as ProtocolError).message).toBe('broker answered ListTopics with an unexpected Pong');
  });

  it('heartbeat$ reports REBALANCE_IN_PROGRESS (error code 27) as rebalanceInProgress', async () => {
    await expect(firstValueFrom(recording({ type: 'HeartbeatResult', errorCode: 27 } as Response).ops.heartbeat$('g', 1, 'm'))).resolves.toEqual({ errorCode: 27, rebalanceInProgress: true });
    await expect(firstValueFrom(recording({ type: 'HeartbeatResult', errorCode: 0 } as Response).ops.heartbeat$('g', 1, 'm'))).resolves.toEqual({ errorCode: 0, rebalanceInProgress: false });
  });
});
