/**
 * Partition assignors: the group leader turns (members, their subscriptions, partition counts)
 * into one partition set per member. Pure functions; pluggable through `ConsumerConfig.assignor`.
 */
import type { GroupAssignments } from '../client/client-types.js';

/** A member of a consumer group, as the assignor sees it. */
export interface GroupMember {
  /** The member's id. */
  memberId: string;
  /** Topics this member subscribed to. */
  topics: readonly string[];
}

/** How the group leader splits partitions among members (`ConsumerConfig.assignor`). */
export interface PartitionAssignor {
  /** The assignor's name (such as `range`). */
  readonly name: string;
  /** memberId → topic → partitions. Every partition of a subscribed topic goes to exactly one subscriber. */
  assign(members: readonly GroupMember[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, Map<string, number[]>>;
}

function emptyPlan(members: readonly GroupMember[]): Map<string, Map<string, number[]>> {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]));
}

function add(plan: Map<string, Map<string, number[]>>, memberId: string, topic: string, partition: number): void {
  const topics = plan.get(memberId)!;
  const list = topics.get(topic) ?? [];
  list.push(partition);
  topics.set(topic, list);
}

const byId = (a: GroupMember, b: GroupMember) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0);

/** Per topic, contiguous ranges: the first (n mod members) subscribers get one extra partition. */
export const rangeAssignor: PartitionAssignor = {
  name: 'range',
  assign(members, partitionsPerTopic) {
    const plan = emptyPlan(members);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic) ?? 0;
      const subscribers = members.filter((m) => m.topics.includes(topic)).sort(byId);
      if (subscribers.length === 0 || count === 0) continue;
      const base = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      let next = 0;
      subscribers.forEach((member, i) => {
        const n = base + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) add(plan, member.memberId, topic, next++);
      });
    }
    return plan;
  },
};

/** All (topic, partition) pairs dealt in turn to the members subscribed to that topic. */
export const roundRobinAssignor: PartitionAssignor = {
  name: 'roundrobin',
  assign(members, partitionsPerTopic) {
    const plan = emptyPlan(members);
    const sorted = [...members].sort(byId);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    let cursor = 0;
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic) ?? 0;
      for (let p = 0; p < count; p++) {
        // Next member (in turn) that subscribes to this topic.
        for (let tries = 0; tries < sorted.length; tries++) {
          const member = sorted[cursor % sorted.length]!;
          cursor++;
          if (member.topics.includes(topic)) {
            add(plan, member.memberId, topic, p);
            break;
          }
        }
      }
    }
    return plan;
  },
};

/** The SyncGroup wire shape of an assignor's plan. */
export function toGroupAssignments(plan: Map<string, Map<string, number[]>>): GroupAssignments {
  return [...plan].map(([memberId, topics]) => [memberId, [...topics].map(([topic, partitions]) => [topic, partitions] as [string, number[]])]);
}
