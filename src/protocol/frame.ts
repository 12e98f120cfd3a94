/**
 * The Rivven frame: `[u32 BE length of the rest][u8 format][u32 BE correlation id][payload]`.
 * Pure: builds and parses bytes.
 */
import { MessageTooLargeError, ProtocolError } from '../errors.js';
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

/** The format byte of a frame. rivven-rx speaks postcard only; a protobuf frame is refused. */
export const WireFormat = {
  /** Postcard (serde's compact binary format): what rivvend speaks by default. */
  Postcard: 0x00,
  /** Protobuf: only brokers built with that feature speak it. */
  Protobuf: 0x01,
} as const;
export type WireFormat = (typeof WireFormat)[keyof typeof WireFormat];

/** A frame without its length prefix, its header parsed. */
export interface FrameBody {
  /** The format byte. */
  format: WireFormat;
  /** The correlation id (the broker echoes the request's). */
  correlationId: number;
  /** The encoded Request or Response. */
  payload: Buffer;
}

const DEFAULT_CAPACITY = 256;
/** Per record of a batch: option tags, two length varints and slack, on top of key and value bytes. */
const PER_RECORD_OVERHEAD = 16;

/**
 * Starting capacity for a response's frame (tests and fake servers encode `messages`): sized from
 * its records so the writer does not grow (each growth copies everything written so far). Requests
 * need none: their records are sized exactly as they are written (`PostcardWriter.batchRecords`).
 */
function sizeHint(message: object): number {
  const records = (message as { messages?: unknown }).messages;
  if (!Array.isArray(records)) return DEFAULT_CAPACITY;
  let size = DEFAULT_CAPACITY;
  for (const record of records as { key?: unknown; value?: unknown }[]) {
    size += PER_RECORD_OVERHEAD + byteSize(record?.key) + byteSize(record?.value);
  }
  return Math.min(size, MAX_MESSAGE_SIZE + DEFAULT_CAPACITY);
}

function byteSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.length;
  if (typeof value === 'string') return value.length * 3;
  return 0;
}

function encodeFramed(encode: (w: PostcardWriter) => void, correlationId: number, withLength: boolean, capacity = DEFAULT_CAPACITY): Buffer {
  if (!Number.isInteger(correlationId) || correlationId < 0 || correlationId > 0xffff_ffff) {
    throw new ProtocolError(`correlation id must be a u32, got ${correlationId}`);
  }
  const headerRoom = (withLength ? LENGTH_PREFIX_SIZE : 0) + WIRE_HEADER_SIZE;
  const writer = new PostcardWriter(capacity + headerRoom, headerRoom);
  encode(writer);
  const frame = writer.finish();
  const bodyLength = frame.length - (withLength ? LENGTH_PREFIX_SIZE : 0);
  if (bodyLength > MAX_MESSAGE_SIZE) {
    // Not a ProtocolError (retriable): the same request is refused again, and again.
    throw new MessageTooLargeError(
      `request of ${bodyLength} bytes exceeds the broker's limit of ${MAX_MESSAGE_SIZE} bytes (MAX_MESSAGE_SIZE); send fewer or smaller records per request`,
      bodyLength,
      MAX_MESSAGE_SIZE,
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
  return encodeFramed((w) => responseCodec.encode(w, response), correlationId, true, sizeHint(response));
}

/** `Response::to_wire(Postcard, id)`, without the length prefix. */
export function responseToWire(response: Response, correlationId: number): Buffer {
  return encodeFramed((w) => responseCodec.encode(w, response), correlationId, false, sizeHint(response));
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
