/**
 * Decoding a large `Messages` response a slice of records at a time, so the transport can yield
 * to the event loop between slices: 100,000 records take 50-150 ms to decode in one go on a
 * 2-core machine, longer than any single task should hold the loop. The result is exactly what
 * `decodeResponse` returns (same objects, same checks, same error messages). Pure: no clocks, no
 * scheduling — the caller decides when to run the next slice.
 */
import { DEFAULT_RESPONSE_LIMITS, type ResolvedResponseLimits } from './decode-limits.js';
import { responseCodec } from './message-codec.js';
import { PostcardReader } from './postcard-reader.js';
import { MAX_MESSAGES_PER_RESPONSE, messageDataSchema, type MessageData, type ResponseOf } from './response-schema.js';
import { compile } from './schema.js';

const MESSAGES_INDEX = responseCodec.indexOf('Messages')!;
const recordCodec = compile(messageDataSchema, 'Response::Messages.messages[]');

/**
 * How many records a `Messages` payload says it holds, if it is one (one varint peek, no
 * allocation); undefined for any other payload. Lets the transport pick the sliced path only for
 * responses big enough to need it.
 */
export function messagesRecordCount(payload: Buffer): number | undefined {
  if (payload.length < 2 || payload[0] !== MESSAGES_INDEX) return undefined;
  let count = 0;
  let multiplier = 1;
  for (let i = 1; i < Math.min(payload.length, 9); i++) {
    const byte = payload[i]!;
    count += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return count;
    multiplier *= 0x80;
  }
  return undefined;
}

export class SlicedMessagesDecoder {
  private readonly reader: PostcardReader;
  private readonly messages: MessageData[];
  private decoded = 0;

  /** Reads the variant and the record count (checked against the limits) at once. */
  constructor(payload: Buffer, limits: ResolvedResponseLimits = DEFAULT_RESPONSE_LIMITS) {
    this.reader = new PostcardReader(payload, limits);
    const index = this.reader.varint(32, 'Response variant index');
    if (index !== MESSAGES_INDEX) this.reader.fail(`expected a Messages response, got variant ${index}`);
    const count = this.reader.count('Response::Messages.messages', MAX_MESSAGES_PER_RESPONSE);
    this.messages = new Array<MessageData>(count);
  }

  /** Decode up to `maxRecords` more; the whole response once the last record is read, else undefined. */
  step(maxRecords: number): ResponseOf<'Messages'> | undefined {
    const end = Math.min(this.messages.length, this.decoded + maxRecords);
    for (let i = this.decoded; i < end; i++) this.messages[i] = recordCodec.decode(this.reader) as MessageData;
    this.decoded = end;
    if (end < this.messages.length) return undefined;
    this.reader.expectEnd('Response::Messages');
    return { type: 'Messages', messages: this.messages };
  }
}
