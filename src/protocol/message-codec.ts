/**
 * Postcard bodies of requests and responses (no frame header). Pure functions over bytes.
 */
import type { ResolvedResponseLimits } from './decode-limits.js';
import { compileEnum } from './enum-schema.js';
import { PostcardReader } from './postcard-reader.js';
import { PostcardWriter } from './postcard-writer.js';
import { REQUEST_VARIANTS, type Request, type RequestInput } from './request-schema.js';
import { RESPONSE_VARIANTS, type Response } from './response-schema.js';

export const requestCodec = compileEnum('Request', REQUEST_VARIANTS);
export const responseCodec = compileEnum('Response', RESPONSE_VARIANTS);

/** A request's postcard payload (no frame header). Throws ProtocolError for a field out of range. */
export function encodeRequest(request: RequestInput): Buffer {
  const writer = new PostcardWriter();
  requestCodec.encode(writer, request);
  return writer.finish();
}

/** Decode a request's postcard payload (fake brokers, tests); throws ProtocolError for bytes that are not one whole request. */
export function decodeRequest(payload: Buffer): Request {
  const reader = new PostcardReader(payload);
  const request = requestCodec.decode(reader) as Request;
  reader.expectEnd(`Request::${request.type}`);
  return request;
}

/** Responses are encoded by tests and fake servers; the broker encodes the real ones. */
export function encodeResponse(response: Response): Buffer {
  const writer = new PostcardWriter();
  responseCodec.encode(writer, response);
  return writer.finish();
}

/** Decode a response body; `limits` bound what a hostile one can make us allocate (see decode-limits.ts). */
export function decodeResponse(payload: Buffer, limits?: ResolvedResponseLimits): Response {
  const reader = new PostcardReader(payload, limits);
  const response = responseCodec.decode(reader) as Response;
  reader.expectEnd(`Response::${response.type}`);
  return response;
}
