/** What `Consumer.health$` reports: where the member is in the group life cycle, and why it left. */
export type ConsumerState =
  /** Not subscribed (or between subscriptions). */
  | 'idle'
  /** Joining the group / waiting for an assignment. */
  | 'joining'
  /** Owns its assignment (possibly none) and heartbeats. */
  | 'stable'
  /** A rebalance is under way (partitions being revoked). */
  | 'rebalancing'
  /**
   * Out of the group because downstream did not acknowledge waiting records within
   * maxPollIntervalMs; rejoins when downstream acknowledges again.
   */
  | 'left'
  | 'closed';

export interface ConsumerHealth {
  state: ConsumerState;
  /** Partitions owned now. */
  assignedPartitions: number;
  /** Times the member left the group because maxPollIntervalMs passed without acknowledgements. */
  maxPollIntervalExceeded: number;
  /** Scheduler time (ms) of the last such departure. */
  lastMaxPollIntervalExceededAt: number | undefined;
  /** Rebalances this member started because a subscribed topic's partition count changed. */
  metadataRebalances: number;
}

export const INITIAL_CONSUMER_HEALTH: ConsumerHealth = {
  state: 'idle',
  assignedPartitions: 0,
  maxPollIntervalExceeded: 0,
  lastMaxPollIntervalExceededAt: undefined,
  metadataRebalances: 0,
};
