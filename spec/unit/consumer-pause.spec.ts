/**
 * consumer.pause(partitions) / resume(partitions): lists and the single-partition form, checked
 * entries, pauses asked for before the assignment, and health$'s `paused` (the owned partitions
 * paused now). No broker: nothing connects until records$ is subscribed.
 */
import { Consumer } from '../../src/consumer/consumer';
import { OwnedPartitions } from '../../src/consumer/owned-partitions';
import { PartitionState } from '../../src/consumer/partition-state';
import { ConfigError } from '../../src/errors';

describe('pause and resume', () => {
  it('take lists and the (topic, partition) form, and refuse malformed entries', async () => {
    const consumer = Consumer.create({ bootstrapServers: ['127.0.0.1:1'], groupId: 'g', topics: ['t'] });
    const seen: number[] = [];
    const subscription = consumer.health$.subscribe((h) => seen.push(h.paused.length));
    consumer.pause([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    consumer.resume('t', 1);
    // Nothing owned yet: nothing is paused now (the pauses apply at assignment).
    expect(consumer.paused()).toEqual([]);
    expect(consumer.health().paused).toEqual([]);
    expect(seen.every((n) => n === 0)).toBe(true);
    expect(() => consumer.pause([{ topic: 't', partition: -1 }])).toThrow(ConfigError);
    expect(() => consumer.pause([{ topic: '', partition: 0 }])).toThrow(/partitions/);
    expect(() => consumer.resume({ topic: 't', partition: 0 } as never)).toThrow(/list/);
    subscription.unsubscribe();
    await consumer.close();
  });

  it('owned partitions pause at once, partitions asked for earlier pause when assigned, resumed ones wake their fetch loop', () => {
    const owned = new OwnedPartitions();
    owned.pause('t', 2); // not owned yet
    const a = new PartitionState('t', 0, 0n, undefined);
    owned.add(a);
    owned.pause('t', 0);
    expect(a.held()).toBe(true);
    expect(owned.isPaused('t', 2)).toBe(true);
    expect(owned.paused()).toEqual([{ topic: 't', partition: 0 }]);
    let woken = 0;
    a.wake = () => woken++;
    owned.resume('t', 0);
    expect(a.held()).toBe(false);
    expect(woken).toBe(1);
    expect(owned.paused()).toEqual([]);
    // A revoked partition is not listed as paused.
    owned.pause('t', 0);
    a.stopped = true;
    expect(owned.paused()).toEqual([]);
  });
});
