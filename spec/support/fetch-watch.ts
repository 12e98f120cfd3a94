/**
 * Watches `rivven-rx:fetch` for one topic: `idle()` resolves once no fetch of it is in flight. With
 * the partition paused first, no new fetch starts — so a test can delete the topic under a consumer
 * without its fetch loop meeting the deletion.
 */
import diagnostics from 'node:diagnostics_channel';
import { CHANNEL_NAMES, type FetchTraceMessage } from '../../src/observability/channels';

export function watchFetches(topic: string): { idle: () => Promise<void>; stop: () => void } {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const mine = (m: unknown) => (m as FetchTraceMessage).topic === topic;
  const none = (): void => undefined;
  const handlers = {
    end: none,
    asyncStart: none,
    error: none,
    start: (m: unknown) => {
      if (mine(m)) inFlight++;
    },
    asyncEnd: (m: unknown) => {
      if (!mine(m)) return;
      inFlight--;
      if (inFlight === 0) for (const w of waiters.splice(0)) w();
    },
  };
  const channel = diagnostics.tracingChannel(CHANNEL_NAMES.fetch);
  channel.subscribe(handlers);
  return {
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    stop: () => {
      channel.unsubscribe(handlers);
      waiters = [];
    },
  };
}
