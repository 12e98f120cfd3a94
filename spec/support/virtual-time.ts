/**
 * Running promise-based code on a VirtualTimeScheduler: the virtual clock moves only when an
 * action runs, so `driveVirtualTime` advances the horizon step by step and lets promises settle
 * between steps, until `work` settles (or `maxMs` of virtual time passed).
 */
import type { VirtualTimeScheduler } from 'rxjs';

export async function driveVirtualTime<T>(scheduler: VirtualTimeScheduler, work: Promise<T>, options: { maxMs?: number; stepMs?: number } = {}): Promise<T> {
  const { maxMs = 60_000, stepMs = 10 } = options;
  let done = false;
  const result = work.finally(() => (done = true));
  for (let horizon = stepMs; !done && horizon <= maxMs; horizon += stepMs) {
    await new Promise((resolve) => setImmediate(resolve));
    scheduler.maxFrames = horizon;
    scheduler.flush();
  }
  return result;
}
