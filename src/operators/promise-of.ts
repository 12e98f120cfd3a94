/**
 * The promise helper for any operation of rivven-rx (admin calls included), for code that does not
 * use RxJS: `await promiseOf(client.createTopic$('orders', 3), { signal })`. It adds no behaviour of
 * its own: it subscribes, resolves with the last value (`undefined` when none), rejects with the
 * operation's error — and when `signal` aborts, unsubscribes (which cancels the operation: a reply
 * arriving later is dropped) and rejects with the signal's reason.
 */
import type { Observable } from 'rxjs';

/** Options of `promiseOf`. */
export interface PromiseOfOptions {
  /** Aborting cancels the operation and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * An operation as a Promise: resolves with its last value (`undefined` when it emitted none),
 * rejects with its error; aborting `signal` cancels it and rejects with `signal.reason`.
 */
export function promiseOf<T>(source$: Observable<T>, options: PromiseOfOptions = {}): Promise<T | undefined> {
  const { signal } = options;
  return new Promise<T | undefined>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let last: T | undefined;
    const onAbort = () => {
      subscription.unsubscribe();
      reject(signal!.reason);
    };
    const subscription = source$.subscribe({
      next: (value) => (last = value),
      error: (error: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
      complete: () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(last);
      },
    });
    if (!subscription.closed) signal?.addEventListener('abort', onAbort, { once: true });
  });
}
