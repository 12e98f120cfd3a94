/**
 * Byte-for-byte agreement with rivven-protocol 0.0.22: every vector the Rust crates produced must
 * decode to its value, and the value must encode back to exactly the Rust bytes.
 */
import { parseFrameBody, requestToWire, responseToWire } from '../../src/protocol/frame';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, requestCodec, responseCodec } from '../../src/protocol/message-codec';
import { REQUEST_VARIANTS, type RequestInput } from '../../src/protocol/request-schema';
import { RESPONSE_VARIANTS, type Response } from '../../src/protocol/response-schema';
import { fromSerdeEnum, hasUnorderedMap } from '../support/serde-json';
import { readVectorFile, type MessageVectorFile } from '../support/vectors';

const requests = readVectorFile<MessageVectorFile>('requests.json');
const responses = readVectorFile<MessageVectorFile>('responses.json');

const suites = [
  {
    kind: 'Request',
    file: requests,
    variants: REQUEST_VARIANTS,
    codec: requestCodec,
    encode: (v: unknown) => encodeRequest(v as RequestInput),
    decode: decodeRequest as (b: Buffer) => unknown,
    toWire: (v: unknown, id: number) => requestToWire(v as RequestInput, id),
  },
  {
    kind: 'Response',
    file: responses,
    variants: RESPONSE_VARIANTS,
    codec: responseCodec,
    encode: (v: unknown) => encodeResponse(v as Response),
    decode: decodeResponse as (b: Buffer) => unknown,
    toWire: (v: unknown, id: number) => responseToWire(v as Response, id),
  },
] as const;

describe.each(suites)('$kind golden vectors', ({ file, variants, codec, encode, decode, toWire }) => {
  it('come from rivven-protocol 0.0.22', () => {
    expect(file.crate).toBe('rivven-protocol 0.0.22');
    expect(file.vectors.length).toBeGreaterThan(variants.length);
  });

  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    const value = fromSerdeEnum(variants, vector.value);
    const postcard = Buffer.from(vector.postcard, 'hex');
    const wire = Buffer.from(vector.wire, 'hex');

    expect(value.type).toBe(vector.variant);
    expect(codec.indexOf(vector.variant)).toBe(vector.index);
    // Rust bytes → TypeScript value.
    expect(decode(postcard)).toEqual(value);
    const body = parseFrameBody(wire);
    expect(body.correlationId).toBe(vector.correlationId);
    expect(body.payload.equals(postcard)).toBe(true);

    // TypeScript value → Rust bytes. Rust writes a HashMap of 2+ entries in its (random) iteration
    // order, which its JSON does not preserve; there the decoded value carries Rust's order.
    const source = hasUnorderedMap(value) ? decode(postcard) : value;
    expect(encode(source).toString('hex')).toBe(vector.postcard);
    expect(toWire(source, vector.correlationId).toString('hex')).toBe(vector.wire);
  });
});
