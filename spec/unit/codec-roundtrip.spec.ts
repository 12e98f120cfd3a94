import fc from 'fast-check';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/protocol/message-codec';
import { REQUEST_VARIANTS, type Request, type RequestInput } from '../../src/protocol/request-schema';
import { RESPONSE_VARIANTS, type Response } from '../../src/protocol/response-schema';
import { arbitraryEnum } from '../support/schema-arbitrary';

describe('codec round trips (property)', () => {
  it('decode(encode(request)) is the request, for random values of every variant', () => {
    fc.assert(
      fc.property(arbitraryEnum(REQUEST_VARIANTS), (request) => {
        const bytes = encodeRequest(request as RequestInput);
        expect(decodeRequest(bytes)).toEqual(request as Request);
        // Re-encoding the decoded value gives the same bytes: nothing is lost or reordered.
        expect(encodeRequest(decodeRequest(bytes)).equals(bytes)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('decode(encode(response)) is the response, for random values of every variant', () => {
    fc.assert(
      fc.property(arbitraryEnum(RESPONSE_VARIANTS), (response) => {
        const bytes = encodeResponse(response as Response);
        expect(decodeResponse(bytes)).toEqual(response);
        expect(encodeResponse(decodeResponse(bytes)).equals(bytes)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('protocol types', () => {
  it('infers request shapes from the schema tables', () => {
    const publish: RequestInput = { type: 'Publish', topic: 't', value: 'text', partition: 2 };
    // @ts-expect-error value is required
    const missing: RequestInput = { type: 'Publish', topic: 't' };
    // @ts-expect-error offsets are bigint
    const wrong: RequestInput = { type: 'CommitOffset', consumerGroup: 'g', topic: 't', partition: 0, offset: 1 };
    expect([publish, missing, wrong]).toHaveLength(3);
  });
});
