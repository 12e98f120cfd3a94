/**
 * Forwarding a leased source (a pooled connection's work, a pipelined request's slot): the lease is
 * given back *before* the error or completion reaches the subscriber, so whatever the subscriber
 * does next (often: another request) finds the slot free.
 *
 * A file of its own because both lease holders (in-flight-limiter.ts, connection-pool.ts) need
 * exactly this and neither should import the other. It is not `source.pipe(tap({ error: release,
 * complete: release })).subscribe(subscriber)`: subscribed with the outer subscriber itself, a
 * source started late (after waiting for its slot) would be torn down *after* the teardown that
 * releases its lease on cancel, so the next waiter could start before the cancelled one stopped.
 */
import type { Observable, Subscriber, Subscription } from 'rxjs';

export function releaseThenForward<T>(source: Observable<T>, subscriber: Subscriber<T>, release: () => void): Subscription {
  return source.subscribe({
    next: (value) => subscriber.next(value),
    error: (error: unknown) => {
      release();
      subscriber.error(error);
    },
    complete: () => {
      release();
      subscriber.complete();
    },
  });
}
