/**
 * The Rivven frame: `[u32 BE length of the rest][u8 format][u32 BE correlation id][payload]`.
 * Pure: builds and parses bytes.
 */
import { ProtocolError } from '../errors.js';
import { requestCodec, responseCodec } from './message-codec.js';
import { PostcardWriter } from './postcard-writer.js';
import type { RequestInput } from './request-schema.js';
import type { Response } from './response-schema.js';

/** `rivven_protocol::MAX_MESSAGE_SIZE`: the broker refuses frames whose body is larger. */
export const MAX_MESSAGE_SIZE = 10 * 1024 * 1024;
/** Format byte + correlation id. */
export const WIRE_HEADER_SIZE = 5;
export const LENGTH_PREFIX_SIZE = 4;
export const PROTOCOL_VERSION = 2;

export const WireFormat = { Postcard: 0x00, Protobuf: 0x01 } as const;
export type WireFormat = (typeof WireFormat)[keyof typeof WireFormat];

export interface FrameBody {
  format: WireFormat;
  correlationId: number;
  payload: Buffer;
}

function encodeFramed(encode: (w: PostcardWriter) => void, correlationId: number, withLength: boolean): Buffer {
  if (!Number.isInteger(correlationId) || correlationId < 0 || correlationId > 0xffff_ffff) {
    throw new ProtocolError(`correlation id must be a u32, got ${correlationId}`);
  }
  const headerRoom = (withLength ? LENGTH_PREFIX_SIZE : 0) + WIRE_HEADER_SIZE;
  const writer = new PostcardWriter(256, headerRoom);
  encode(writer);
  const frame = writer.finish();
  const bodyLength = frame.length - (withLength ? LENGTH_PREFIX_SIZE : 0);
  if (bodyLength > MAX_MESSAGE_SIZE) {
    throw new ProtocolError(
      `message of ${bodyLength} bytes exceeds the broker's limit of ${MAX_MESSAGE_SIZE} bytes; send fewer or smaller records per request`,
    );
  }
  let at = 0;
  if (withLength) {
    frame.writeUInt32BE(bodyLength, 0);
    at = LENGTH_PREFIX_SIZE;
  }
  frame[at] = WireFormat.Postcard;
  frame.writeUInt32BE(correlationId, at + 1);
  return frame;
}

/** A whole request frame, length prefix included, ready for the socket. */
export function encodeRequestFrame(request: RequestInput, correlationId: number): Buffer {
  return encodeFramed((w) => requestCodec.encode(w, request), correlationId, true);
}

/** `Request::to_wire(Postcard, id)`: format byte, correlation id and payload, without the length prefix. */
export function requestToWire(request: RequestInput, correlationId: number): Buffer {
  return encodeFramed((w) => requestCodec.encode(w, request), correlationId, false);
}

/** A whole response frame (used by fake servers in tests). */
export function encodeResponseFrame(response: Response, correlationId: number): Buffer {
  return encodeFramed((w) => responseCodec.encode(w, response), correlationId, true);
}

/** `Response::to_wire(Postcard, id)`, without the length prefix. */
export function responseToWire(response: Response, correlationId: number): Buffer {
  return encodeFramed((w) => responseCodec.encode(w, response), correlationId, false);
}

/** Split a frame body (what follows the length prefix) into format, correlation id and payload. */
export function parseFrameBody(body: Buffer): FrameBody {
  if (body.length < WIRE_HEADER_SIZE) {
    throw new ProtocolError(`frame of ${body.length} bytes is shorter than the ${WIRE_HEADER_SIZE}-byte header`);
  }
  const format = body[0]!;
  if (format === WireFormat.Protobuf) {
    throw new ProtocolError('received a protobuf frame (format 0x01); rivven-rx speaks postcard (0x00) only');
  }
  if (format !== WireFormat.Postcard) {
    throw new ProtocolError(`unknown wire format byte 0x${format.toString(16).padStart(2, '0')}; is this a Rivven broker?`);
  }
  return { format, correlationId: body.readUInt32BE(1), payload: body.subarray(WIRE_HEADER_SIZE) };
}
