/**
 * A record that finds `bufferMemory` full: it waits for room in order, up to `maxBlockMs`, then fails
 * with RivvenTimeoutError. Returns its withdrawal (the caller unsubscribed): a record still waiting
 * leaves the queue; one admitted but not yet handed to the broker is withdrawn from its batch.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import { RivvenTimeoutError } from '../errors.js';
import type { MemoryBudget } from './memory-budget.js';
import type { PendingRecord } from './producer-record.js';

export interface MemoryWaitHooks {
  budget: MemoryBudget;
  scheduler: SchedulerLike;
  bufferMemory: number;
  maxBlockMs: number;
  /** Room was reserved for `entry` (its `reserved` is set): accept it, or give the room back if it was settled meanwhile. */
  admitted(entry: PendingRecord): void;
  /** `entry` waited `maxBlockMs` in vain. */
  timedOut(entry: PendingRecord, error: Error): void;
  /** `entry` was withdrawn while still waiting: it has no outcome and holds no memory. */
  withdrawnWhileWaiting(entry: PendingRecord): void;
}

export function waitForRoom(entry: PendingRecord, hooks: MemoryWaitHooks): () => void {
  let admitted = false;
  let blockTimer: Subscription | undefined;
  const cancelWait = hooks.budget.wait(entry.size, () => {
    blockTimer?.unsubscribe();
    admitted = true;
    entry.reserved = true;
    hooks.admitted(entry);
  });
  blockTimer = hooks.scheduler.schedule(() => {
    cancelWait();
    hooks.timedOut(
      entry,
      new RivvenTimeoutError(
        `bufferMemory (${hooks.bufferMemory} bytes) stayed full for maxBlockMs (${hooks.maxBlockMs} ms): ` +
          'the broker is slower than the send rate; slow down, or raise bufferMemory/maxBlockMs',
      ),
    );
  }, hooks.maxBlockMs);
  return () => {
    blockTimer?.unsubscribe();
    if (entry.settled) return;
    if (!admitted) {
      cancelWait();
      hooks.withdrawnWhileWaiting(entry);
    } else if (!entry.batched) {
      // Not yet handed to the broker: withdraw it (its memory is freed when its queue drains).
      entry.cancelled = true;
    }
  };
}
