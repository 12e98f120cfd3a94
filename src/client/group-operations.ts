/**
 * The consumer-group operations over a `BrokerExchange`: committed offsets, listing, describing and
 * deleting groups, and membership (join, sync, heartbeat, leave) — where heartbeat replies are
 * decoded, so `REBALANCE_IN_PROGRESS_CODE` is defined here. `BrokerOperations` puts them on the
 * clients; the user-facing documentation is there.
 */
import { type Observable, defer } from 'rxjs';
import { MAX_TIMER_MS } from '../settings-validation.js';
import { ArgumentCheck } from './argument-checks.js';
import { type BrokerExchange, call$ } from './broker-exchange.js';
import type { GroupAssignments, GroupDescription, HeartbeatResult, JoinGroupOptions, JoinGroupResult } from './client-types.js';

/** rivvend's HeartbeatResult `errorCode` asking the member to rejoin (Kafka's REBALANCE_IN_PROGRESS). */
export const REBALANCE_IN_PROGRESS_CODE = 27;

const JOIN_OPTION_KEYS = ['sessionTimeoutMs', 'rebalanceTimeoutMs', 'subscriptions', 'protocolType'] as const;

// ---- committed offsets and groups -------------------------------------------------------------

export function commitOffset$(exchange: BrokerExchange, group: string, topic: string, partition: number, offset: bigint | number): Observable<void> {
  return call$(
    exchange,
    () => {
      const check = checkGroupPartition('commitOffset$', group, topic, partition);
      return { type: 'CommitOffset', consumerGroup: group, topic, partition, offset: toOffset(check, offset, 'offset') };
    },
    ['OffsetCommitted', 'Ok'],
    () => undefined,
  );
}

export function getOffset$(exchange: BrokerExchange, group: string, topic: string, partition: number): Observable<bigint | undefined> {
  return call$(
    exchange,
    () => {
      checkGroupPartition('getOffset$', group, topic, partition);
      return { type: 'GetOffset', consumerGroup: group, topic, partition };
    },
    'Offset',
    (r) => r.offset,
  );
}

export function listGroups$(exchange: BrokerExchange): Observable<string[]> {
  return call$(exchange, () => ({ type: 'ListGroups' }), 'Groups', (r) => r.groups);
}

export function describeGroup$(exchange: BrokerExchange, group: string): Observable<GroupDescription> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('describeGroup$').name('group', group);
      return { type: 'DescribeGroup', consumerGroup: group };
    },
    'GroupDescription',
    (r) => ({ group: r.consumerGroup, offsets: r.offsets }),
  );
}

export function deleteGroup$(exchange: BrokerExchange, group: string): Observable<void> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('deleteGroup$').name('group', group);
      return { type: 'DeleteGroup', consumerGroup: group };
    },
    ['GroupDeleted', 'Ok'],
    () => undefined,
  );
}

// ---- membership -------------------------------------------------------------------------------

export function joinGroup$(exchange: BrokerExchange, groupId: string, memberId: string, options: JoinGroupOptions): Observable<JoinGroupResult> {
  // Checked when subscribed, before the call: the reply's timeout depends on the arguments.
  return defer(() => {
    const check = new ArgumentCheck('joinGroup$');
    check.name('groupId', groupId);
    check.name('memberId', memberId, { allowEmpty: true });
    check.object('options', options);
    check.knownKeys('options', options, JOIN_OPTION_KEYS);
    check.u32('options.sessionTimeoutMs', options.sessionTimeoutMs);
    const rebalanceTimeoutMs = check.u32('options.rebalanceTimeoutMs', options.rebalanceTimeoutMs);
    check.array('options.subscriptions', options.subscriptions).forEach((t, i) => check.name(`options.subscriptions[${i}]`, t));
    const protocolType = options.protocolType === undefined ? 'consumer' : check.name('options.protocolType', options.protocolType);
    return call$(
      exchange,
      () => ({ type: 'JoinGroup', groupId, memberId, sessionTimeoutMs: options.sessionTimeoutMs, rebalanceTimeoutMs, protocolType, subscriptions: options.subscriptions }),
      'JoinGroupResult',
      (r) => ({
        generationId: r.generationId,
        protocolType: r.protocolType,
        memberId: r.memberId,
        leaderId: r.leaderId,
        members: r.members,
        isLeader: r.memberId === r.leaderId,
      }),
      // The coordinator holds JoinGroup until every member joined, up to the rebalance timeout.
      { timeoutMs: Math.min(rebalanceTimeoutMs + 30_000, MAX_TIMER_MS) },
    );
  });
}

/** The leader sends everyone's assignments; every member receives its own. */
export function syncGroup$(exchange: BrokerExchange, groupId: string, generationId: number, memberId: string, assignments: GroupAssignments): Observable<[string, number[]][]> {
  return call$(
    exchange,
    () => {
      const check = checkMember('syncGroup$', groupId, generationId, memberId);
      check.array('assignments', assignments).forEach((entry, i) => {
        if (!Array.isArray(entry) || entry.length !== 2) check.fail(`assignments[${i}]`, 'a [memberId, [topic, partitions][]] pair', entry);
        check.name(`assignments[${i}][0]`, entry[0], { allowEmpty: true });
        check.array(`assignments[${i}][1]`, entry[1]).forEach((tp, j) => {
          if (!Array.isArray(tp) || tp.length !== 2) check.fail(`assignments[${i}][1][${j}]`, 'a [topic, partitions] pair', tp);
          check.name(`assignments[${i}][1][${j}][0]`, tp[0]);
          check.array(`assignments[${i}][1][${j}][1]`, tp[1]).forEach((p, k) => check.partition(`assignments[${i}][1][${j}][1][${k}]`, p));
        });
      });
      return { type: 'SyncGroup', groupId, generationId, memberId, assignments };
    },
    'SyncGroupResult',
    (r) => r.assignments,
  );
}

export function heartbeat$(exchange: BrokerExchange, groupId: string, generationId: number, memberId: string): Observable<HeartbeatResult> {
  return call$(
    exchange,
    () => {
      checkMember('heartbeat$', groupId, generationId, memberId);
      return { type: 'Heartbeat', groupId, generationId, memberId };
    },
    'HeartbeatResult',
    (r) => ({ errorCode: r.errorCode, rebalanceInProgress: r.errorCode === REBALANCE_IN_PROGRESS_CODE }),
  );
}

export function leaveGroup$(exchange: BrokerExchange, groupId: string, memberId: string): Observable<void> {
  return call$(
    exchange,
    () => {
      const check = new ArgumentCheck('leaveGroup$');
      check.name('groupId', groupId);
      check.name('memberId', memberId, { allowEmpty: true });
      return { type: 'LeaveGroup', groupId, memberId };
    },
    ['LeaveGroupResult', 'Ok'],
    () => undefined,
  );
}

// ---- the checks of what these operations take -------------------------------------------------

/** A group and one of its partitions (offset commits and reads); the check goes on with the rest. */
function checkGroupPartition(operation: string, group: string, topic: string, partition: number): ArgumentCheck {
  const check = new ArgumentCheck(operation);
  check.name('group', group);
  check.name('topic', topic);
  check.partition('partition', partition);
  return check;
}

/** An offset the caller may give as a bigint or a safe non-negative integer (commitOffset$). */
function toOffset(check: ArgumentCheck, value: bigint | number, argument: string): bigint {
  if (typeof value === 'bigint') return check.u64(argument, value, 'an offset (a bigint ≥ 0n, or a safe integer ≥ 0)');
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return check.fail(argument, 'an offset (a bigint ≥ 0n, or a safe integer ≥ 0)', value);
}

/** A group member in a generation (sync, heartbeat); the member id may be empty before its first join. */
function checkMember(operation: string, groupId: string, generationId: number, memberId: string): ArgumentCheck {
  const check = new ArgumentCheck(operation);
  check.name('groupId', groupId);
  check.u32('generationId', generationId);
  check.name('memberId', memberId, { allowEmpty: true });
  return check;
}
