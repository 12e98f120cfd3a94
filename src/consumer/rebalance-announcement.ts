/**
 * How a revoke or an assignment is told outside the consumer besides rebalances$: the
 * `rivven-rx:rebalance` diagnostics channel and an info log line. One place, so the channel
 * message and the line always describe the same event.
 */
import { publishRebalanceEvent } from '../observability/channels.js';
import type { Log } from '../observability/log.js';
import type { RebalanceEvent } from './consumer-record.js';

export function announceRebalance(event: RebalanceEvent, groupId: string, memberId: string, log: Log): void {
  publishRebalanceEvent(() => ({
    event: event.type,
    groupId,
    memberId,
    generationId: event.generationId,
    partitions: event.partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
    ...(event.type === 'revoked' ? { reason: event.reason } : {}),
  }));
  if (log.enabled('info')) {
    log.info(event.type === 'revoked' ? `partitions revoked (${event.reason})` : 'partitions assigned', {
      memberId,
      generation: event.generationId,
      partitions: event.partitions.map((tp) => `${tp.topic}/${tp.partition}`).join(','),
      ...(event.type === 'revoked' ? { reason: event.reason } : {}),
    });
  }
}
