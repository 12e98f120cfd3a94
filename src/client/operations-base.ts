/**
 * What every typed operation is built on: `send$` (each client routes requests its own way) and
 * the one way a call is made — arguments checked when subscribed, the request sent, the expected
 * reply projected, any other reply turned into a typed error (errorFromResponse).
 */
import { type Observable, defer, map } from 'rxjs';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response, ResponseType } from '../protocol/response-schema.js';
import type { RequestOptions } from '../transport/connection.js';
import { ArgumentCheck } from './operation-input.js';
import { errorFromResponse } from './response-errors.js';
import type { Expected, Matched } from './operation-checks.js';

/** The base of the typed operations: subclasses decide how a request reaches a broker. */
export abstract class OperationsBase {
  /** Send one request; emit the broker's reply (Error replies may be emitted or thrown). */
  protected abstract send$(request: RequestInput, options?: RequestOptions): Observable<Response>;

  /** An operation whose arguments `checks` checks when subscribed (ConfigError before anything is sent). */
  protected checked$<E extends Expected, R>(
    operation: string,
    checks: (check: ArgumentCheck) => void,
    build: () => RequestInput,
    expected: E,
    project: (response: Matched<E>) => R,
  ): Observable<R> {
    return this.call$(
      () => {
        checks(new ArgumentCheck(operation));
        return build();
      },
      expected,
      project,
    );
  }

  /**
   * Build the request when subscribed (its argument checks throw ConfigError before anything is
   * sent), send it, and project the expected reply; any other reply becomes a typed error.
   */
  protected call$<E extends Expected, R>(
    build: () => RequestInput,
    expected: E,
    project: (response: Matched<E>) => R,
    options?: RequestOptions,
  ): Observable<R> {
    const accepts: readonly ResponseType[] = typeof expected === 'string' ? [expected as ResponseType] : (expected as readonly ResponseType[]);
    return defer(() => {
      const request = build();
      return this.send$(request, options).pipe(
        map((response) => {
          if (accepts.includes(response.type)) return project(response as Matched<E>);
          throw errorFromResponse(response, request.type);
        }),
      );
    });
  }
}
