/**
 * The typed broker operations (publish$, consume$, createTopic$, …) written once over an abstract
 * `send$`, for the clients that route requests their own way: `PipelinedClient` (one connection,
 * bounded in-flight) and `ResilientClient` (pool, failover, retry, circuit breaker). Broker `Error`
 * and `Throttled` replies become typed errors through `errorFromResponse`.
 *
 * Every operation checks its arguments when subscribed, before anything is encoded or sent
 * (operation-input.ts): a wrong type or range is a `ConfigError`, not retriable.
 * `consume$` gives values as the producer sent them (value-decoder.ts), like `Consumer`.
 */
import { type Observable, defer } from 'rxjs';
import { MAX_TIMER_MS } from '../settings-validation.js';
import { ArgumentCheck } from './operation-input.js';
import { REBALANCE_IN_PROGRESS_CODE, JOIN_OPTION_KEYS, checkMember } from './operation-checks.js';
import type { GroupAssignments, HeartbeatResult, JoinGroupOptions, JoinGroupResult } from './client-types.js';
import { TransactionOperations } from './transaction-operations.js';

export { REBALANCE_IN_PROGRESS_CODE, DEFAULT_MAX_DECODED_BYTES } from './operation-checks.js';

/**
 * Every typed operation over `send$`: data (data-operations.ts), admin (admin-operations.ts),
 * producer ids and transactions (transaction-operations.ts), and here group coordination.
 * Subclasses decide how a request reaches a broker.
 */
export abstract class BrokerOperations extends TransactionOperations {
  // ---- group coordination ---------------------------------------------------------------------

  /** Join (or rejoin) a group; the coordinator answers once the rebalance settles. */
  joinGroup$(groupId: string, memberId: string, options: JoinGroupOptions): Observable<JoinGroupResult> {
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
      return this.call$(
        () => ({
          type: 'JoinGroup',
          groupId,
          memberId,
          sessionTimeoutMs: options.sessionTimeoutMs,
          rebalanceTimeoutMs,
          protocolType,
          subscriptions: options.subscriptions,
        }),
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

  /** The leader sends everyone's assignments; every member receives its own (topic, partitions). */
  syncGroup$(groupId: string, generationId: number, memberId: string, assignments: GroupAssignments = []): Observable<[string, number[]][]> {
    return this.call$(
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

  heartbeat$(groupId: string, generationId: number, memberId: string): Observable<HeartbeatResult> {
    return this.call$(
      () => {
        checkMember('heartbeat$', groupId, generationId, memberId);
        return { type: 'Heartbeat', groupId, generationId, memberId };
      },
      'HeartbeatResult',
      (r) => ({ errorCode: r.errorCode, rebalanceInProgress: r.errorCode === REBALANCE_IN_PROGRESS_CODE }),
    );
  }

  leaveGroup$(groupId: string, memberId: string): Observable<void> {
    return this.call$(
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

}
