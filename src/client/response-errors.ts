/** The typed error for a broker reply that is not the one a request expects. */
import { ProtocolError, ThrottledError, errorFromServerMessage } from '../errors.js';
import type { Response } from '../protocol/response-schema.js';

export function errorFromResponse(response: Response, requestType: string): Error {
  if (response.type === 'Error') return errorFromServerMessage(response.message, requestType);
  if (response.type === 'Throttled') return new ThrottledError(response.throttleTimeMs, response.quotaType, response.entity);
  return new ProtocolError(`broker answered ${requestType} with an unexpected ${response.type}`);
}
