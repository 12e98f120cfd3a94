/**
 * What a well-behaved rivvend 0.0.22 may answer to each request (read from its handlers), and the
 * value ranges it can produce. A reply outside them is a protocol violation: the peer is broken or
 * hostile, or the connection is out of sync — never something to hand to the caller as data.
 * Pure: request type and decoded response in, a description of the violation (or undefined) out.
 */
import type { RequestType } from './request-schema.js';
import type { Response, ResponseType } from './response-schema.js';

/** `Error` and `Throttled` may answer anything (quota checks run before every handler). */
const ALWAYS: readonly ResponseType[] = ['Error', 'Throttled'];

/** Per request: the reply types of a success. `Ok` is accepted where our operations accept it. */
export const EXPECTED_RESPONSES: Readonly<Record<RequestType, readonly ResponseType[]>> = {
  Authenticate: ['Authenticated'],
  SaslAuthenticate: ['Authenticated'],
  ScramClientFirst: ['ScramServerFirst'],
  ScramClientFinal: ['ScramServerFinal'],
  Handshake: ['HandshakeResult'],
  Publish: ['Published'],
  PublishBatch: ['PublishedBatch'],
  Consume: ['Messages'],
  CreateTopic: ['TopicCreated'],
  ListTopics: ['Topics'],
  DeleteTopic: ['TopicDeleted', 'Ok'],
  CommitOffset: ['OffsetCommitted', 'Ok'],
  GetOffset: ['Offset'],
  GetMetadata: ['Metadata'],
  GetClusterMetadata: ['ClusterMetadata'],
  Ping: ['Pong'],
  GetOffsetBounds: ['OffsetBounds'],
  ListGroups: ['Groups'],
  DescribeGroup: ['GroupDescription'],
  DeleteGroup: ['GroupDeleted', 'Ok'],
  GetOffsetForTimestamp: ['OffsetForTimestamp'],
  InitProducerId: ['ProducerIdInitialized'],
  IdempotentPublish: ['IdempotentPublished'],
  IdempotentPublishBatch: ['IdempotentPublishedBatch'],
  BeginTransaction: ['TransactionStarted'],
  AddPartitionsToTxn: ['PartitionsAddedToTxn'],
  TransactionalPublish: ['TransactionalPublished'],
  AddOffsetsToTxn: ['OffsetsAddedToTxn'],
  CommitTransaction: ['TransactionCommitted'],
  AbortTransaction: ['TransactionAborted'],
  DescribeQuotas: ['QuotasDescribed'],
  AlterQuotas: ['QuotasAltered'],
  AlterTopicConfig: ['TopicConfigAltered'],
  CreatePartitions: ['PartitionsCreated'],
  DeleteRecords: ['RecordsDeleted'],
  DescribeTopicConfigs: ['TopicConfigsDescribed'],
  JoinGroup: ['JoinGroupResult'],
  SyncGroup: ['SyncGroupResult'],
  Heartbeat: ['HeartbeatResult'],
  LeaveGroup: ['LeaveGroupResult', 'Ok'],
};

/**
 * Offsets are u64 on the wire but a log position is an i64 everywhere else (Kafka, the consumer's
 * arithmetic, `offset + 1` on the next fetch): rivvend never produces one above i64::MAX.
 */
export const MAX_OFFSET = (1n << 63n) - 1n;

/** Why `response` cannot be the answer to a `requestType` request, or undefined if it can. */
export function responseViolation(requestType: string, response: Response): string | undefined {
  const expected = EXPECTED_RESPONSES[requestType as RequestType] as readonly ResponseType[] | undefined;
  if (expected !== undefined && !expected.includes(response.type) && !ALWAYS.includes(response.type)) {
    return `the broker answered ${requestType} with ${response.type} (expected ${expected.join(' or ')})`;
  }
  const offset = outOfRangeOffset(response);
  if (offset !== undefined) {
    return `the broker answered ${requestType} with an offset of ${offset}, beyond the largest possible log offset (2^63-1)`;
  }
  return undefined;
}

function outOfRangeOffset(response: Response): bigint | undefined {
  switch (response.type) {
    case 'Messages':
      // One pass, no allocation: this runs on every fetch.
      for (const m of response.messages) if (m.offset > MAX_OFFSET) return m.offset;
      return undefined;
    case 'Published':
    case 'IdempotentPublished':
    case 'TransactionalPublished':
      return response.offset > MAX_OFFSET ? response.offset : undefined;
    case 'PublishedBatch':
    case 'IdempotentPublishedBatch':
      return response.baseOffset + BigInt(response.recordCount) > MAX_OFFSET ? response.baseOffset : undefined;
    case 'Offset':
    case 'OffsetForTimestamp':
      return response.offset !== undefined && response.offset > MAX_OFFSET ? response.offset : undefined;
    case 'OffsetBounds':
      if (response.earliest > MAX_OFFSET) return response.earliest;
      return response.latest > MAX_OFFSET ? response.latest : undefined;
    default:
      return undefined;
  }
}
