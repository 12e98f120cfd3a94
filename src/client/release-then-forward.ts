/**
 * Forwarding a leased source (a pooled connection's work, a pipelined request's slot): the lease is
 * given back *before* the error or completion reaches the subscriber, so whatever the subscriber
 * does next (often: another request) finds the slot free.
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
