/**
 * The one narrow interface the typed operations need (`BrokerExchange`: send a request, get the
 * broker's reply) and the one way an operation uses it (`call$`): build the request when
 * subscribed — its argument checks throw a ConfigError before anything is sent — send it, project
 * the reply the request expects, and turn any other reply into a typed error (`errorFromResponse`,
 * also used by the fetch loop and the resilient client for their own raw replies).
 */
import { type Observable, defer, map } from 'rxjs';
import { ProtocolError, ThrottledError, errorFromServerMessage } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response, ResponseOf, ResponseType } from '../protocol/response-schema.js';
import type { RequestOptions } from '../transport/connection-types.js';

/**
 * How requests reach a broker; each client routes them its own way (one connection, an in-flight
 * limit, a pool with failover). Error replies may be emitted as values or thrown.
 */
export interface BrokerExchange {
  send$(request: RequestInput, options?: RequestOptions): Observable<Response>;
}

/** The reply type (or types) a request expects. */
export type Expected = ResponseType | readonly ResponseType[];
export type Matched<E extends Expected> = E extends ResponseType ? ResponseOf<E> : E extends readonly (infer T extends ResponseType)[] ? ResponseOf<T> : never;

/** The typed error for a broker reply that is not the one a request expects. */
export function errorFromResponse(response: Response, requestType: string): Error {
  if (response.type === 'Error') return errorFromServerMessage(response.message, requestType);
  if (response.type === 'Throttled') return new ThrottledError(response.throttleTimeMs, response.quotaType, response.entity);
  return new ProtocolError(`broker answered ${requestType} with an unexpected ${response.type}`);
}

/**
 * One operation, cold: `build` runs when subscribed (its checks throw ConfigError before anything
 * is sent), the request goes through `exchange`, the `expected` reply is projected; any other reply
 * becomes a typed error.
 */
export function call$<E extends Expected, R>(
  exchange: BrokerExchange,
  build: () => RequestInput,
  expected: E,
  project: (response: Matched<E>) => R,
  options?: RequestOptions,
): Observable<R> {
  const accepts: readonly ResponseType[] = typeof expected === 'string' ? [expected as ResponseType] : (expected as readonly ResponseType[]);
  return defer(() => {
    const request = build();
    return exchange.send$(request, options).pipe(
      map((response) => {
        if (accepts.includes(response.type)) return project(response as Matched<E>);
        throw errorFromResponse(response, request.type);
      }),
    );
  });
}
