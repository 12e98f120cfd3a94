/**
 * The response decoder's budgets (decode-limits.ts), the sliced `Messages` decoder (identical to
 * the one-piece decoder, errors included), and the table of what may answer what
 * (response-expectations.ts). Pure: bytes in, values or ProtocolErrors out.
 */
import fc from 'fast-check';
import { REQUEST_RETRY_CLASS } from '../../src/client/resilient-retry-class';
import { ConfigError, ProtocolError } from '../../src/errors';
import { DEFAULT_RESPONSE_LIMITS, resolveResponseLimits } from '../../src/protocol/decode-limits';
import { decodeResponse, encodeResponse } from '../../src/protocol/message-codec';
import { EXPECTED_RESPONSES, responseViolation } from '../../src/protocol/response-expectations';
import { RESPONSE_VARIANTS, messageDataSchema, type MessageData, type Response } from '../../src/protocol/response-schema';
import { SlicedMessagesDecoder, messagesRecordCount } from '../../src/protocol/sliced-messages';
import { arbitraryFor } from '../support/schema-arbitrary';

const messages = (list: MessageData[]): Response => ({ type: 'Messages', messages: list });
const record = (headers: [string, Buffer][], offset = 0n): MessageData => ({ offset, partition: 0, value: Buffer.from('v'), timestamp: 0n, headers });

function decodeSliced(payload: Buffer, slice: number, limits = DEFAULT_RESPONSE_LIMITS): Response {
  const decoder = new SlicedMessagesDecoder(payload, limits);
  for (;;) {
    const done = decoder.step(slice);
    if (done !== undefined) return done;
  }
}

/** The outcome of decoding, comparable across decoders: the value, or the error's class and message. */
function outcome(decode: () => Response): unknown {
  try {
    return decode();
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

describe('header limits', () => {
  it('refuses more headers on one record than maxHeadersPerRecord, naming it', () => {
    const payload = encodeResponse(messages([record(Array.from({ length: 1_001 }, () => ['', Buffer.alloc(0)] as [string, Buffer]))]));
    expect(() => decodeResponse(payload)).toThrow(/1001 headers, more than responseLimits\.maxHeadersPerRecord \(1000\)/);
    // Raised for a trusted broker, the same reply decodes.
    const raised = resolveResponseLimits({ maxHeadersPerRecord: 2_000 });
    expect(decodeResponse(payload, raised).type).toBe('Messages');
  });

  it('refuses more headers in one reply than maxHeadersPerResponse', () => {
    const limits = resolveResponseLimits({ maxHeadersPerResponse: 10 });
    const header: [string, Buffer] = ['k', Buffer.from('v')];
    const ok = encodeResponse(messages([record([header, header, header, header, header]), record([header, header, header, header, header])]));
    expect(decodeResponse(ok, limits).type).toBe('Messages');
    const over = encodeResponse(messages([record([header, header, header, header, header]), record([header, header, header, header, header, header])]));
    expect(() => decodeResponse(over, limits)).toThrow(/more than 10 headers in all \(limit responseLimits\.maxHeadersPerResponse\)/);
  });

  it('refuses a header key or value over its size limit', () => {
    const limits = resolveResponseLimits({ maxHeaderKeyBytes: 4, maxHeaderValueBytes: 8 });
    expect(decodeResponse(encodeResponse(messages([record([['abcd', Buffer.alloc(8)]])])), limits).type).toBe('Messages');
    expect(() => decodeResponse(encodeResponse(messages([record([['abcde', Buffer.alloc(1)]])])), limits)).toThrow(/maxHeaderKeyBytes \(4\)/);
    expect(() => decodeResponse(encodeResponse(messages([record([['a', Buffer.alloc(9)]])])), limits)).toThrow(/maxHeaderValueBytes \(8\)/);
  });

  it('charges nested lists against one item budget', () => {
    const group: Response = {
      type: 'GroupDescription',
      consumerGroup: 'g',
      offsets: new Map([
        ['a', new Map(Array.from({ length: 6 }, (_, p) => [p, 1n] as [number, bigint]))],
        ['b', new Map(Array.from({ length: 6 }, (_, p) => [p, 1n] as [number, bigint]))],
      ]),
    };
    const payload = encodeResponse(group);
    expect(decodeResponse(payload, resolveResponseLimits({ maxItemsPerResponse: 14 })).type).toBe('GroupDescription'); // 2 + 6 + 6
    expect(() => decodeResponse(payload, resolveResponseLimits({ maxItemsPerResponse: 13 }))).toThrow(/maxItemsPerResponse/);
  });

  it('validates the limits themselves (ConfigError naming the limit)', () => {
    expect(() => resolveResponseLimits({ maxHeadersPerRecord: 0 })).toThrow(ConfigError);
    expect(() => resolveResponseLimits({ maxItemsPerResponse: 1.5 })).toThrow(/responseLimits\.maxItemsPerResponse/);
    expect(() => resolveResponseLimits({ maxHeaderBytes: 5 } as never)).toThrow(/responseLimits\.maxHeaderBytes: unknown limit/);
    expect(resolveResponseLimits(undefined)).toBe(DEFAULT_RESPONSE_LIMITS);
  });
});

describe('sliced Messages decoding', () => {
  const arbitraryRecords = fc.array(arbitraryFor(messageDataSchema) as fc.Arbitrary<MessageData>, { maxLength: 40 });

  it('gives exactly what the one-piece decoder gives, for any records and any slice size (property)', () => {
    fc.assert(
      fc.property(arbitraryRecords, fc.integer({ min: 1, max: 50 }), (records, slice) => {
        const payload = encodeResponse(messages(records));
        expect(messagesRecordCount(payload)).toBe(records.length);
        expect(decodeSliced(payload, slice)).toEqual(decodeResponse(payload));
      }),
      { numRuns: 300 },
    );
  });

  it('fails exactly as the one-piece decoder does on truncated or corrupted payloads (property)', () => {
    fc.assert(
      fc.property(arbitraryRecords, fc.integer({ min: 1, max: 10 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (records, slice, at, byte) => {
        const payload = Buffer.from(encodeResponse(messages(records)));
        const cut = payload.subarray(0, 1 + (at % payload.length));
        const flipped = Buffer.from(payload);
        flipped[at % payload.length] = byte;
        for (const bad of [cut, flipped]) {
          if (messagesRecordCount(bad) === undefined) continue; // not a Messages payload any more
          expect(outcome(() => decodeSliced(bad, slice))).toEqual(outcome(() => decodeResponse(bad)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('applies the same limits', () => {
    const payload = encodeResponse(messages([record(Array.from({ length: 1_001 }, () => ['', Buffer.alloc(0)] as [string, Buffer]))]));
    expect(() => decodeSliced(payload, 1)).toThrow(ProtocolError);
    expect(() => decodeSliced(payload, 1)).toThrow(/maxHeadersPerRecord/);
  });

  it('peeks the record count of Messages payloads only', () => {
    expect(messagesRecordCount(encodeResponse({ type: 'Pong' }))).toBeUndefined();
    expect(messagesRecordCount(encodeResponse(messages(Array.from({ length: 300 }, () => record([])))))).toBe(300);
  });
});

describe('what may answer what', () => {
  const variantNames = new Set<string>(RESPONSE_VARIANTS.map(([name]) => name));

  it('lists every request type, with reply types that exist', () => {
    expect(Object.keys(EXPECTED_RESPONSES).sort()).toEqual(Object.keys(REQUEST_RETRY_CLASS).sort());
    for (const types of Object.values(EXPECTED_RESPONSES)) for (const type of types) expect(variantNames.has(type)).toBe(true);
  });

  it('accepts the expected reply, Error and Throttled; refuses any other type', () => {
    expect(responseViolation('Consume', { type: 'Messages', messages: [] })).toBeUndefined();
    expect(responseViolation('Consume', { type: 'Error', message: 'UNKNOWN_TOPIC_OR_PARTITION: x' })).toBeUndefined();
    expect(responseViolation('Publish', { type: 'Throttled', throttleTimeMs: 5n, quotaType: 'q', entity: 'e' })).toBeUndefined();
    expect(responseViolation('Consume', { type: 'Published', offset: 1n, partition: 0 })).toMatch(/answered Consume with Published \(expected Messages\)/);
    expect(responseViolation('Ping', { type: 'Messages', messages: [] })).toMatch(/answered Ping with Messages/);
  });

  it('refuses offsets beyond 2^63-1', () => {
    expect(responseViolation('Consume', messages([record([], (1n << 63n) - 1n)]))).toBeUndefined();
    expect(responseViolation('Consume', messages([record([], 1n << 63n)]))).toMatch(/offset of 9223372036854775808/);
    expect(responseViolation('Publish', { type: 'Published', offset: 2n ** 64n - 1n, partition: 0 })).toMatch(/offset/);
    expect(responseViolation('GetOffsetBounds', { type: 'OffsetBounds', earliest: 0n, latest: 2n ** 64n - 1n })).toMatch(/offset/);
    expect(responseViolation('PublishBatch', { type: 'PublishedBatch', baseOffset: (1n << 63n) - 2n, partition: 0, recordCount: 5 })).toMatch(/offset/);
  });
});
