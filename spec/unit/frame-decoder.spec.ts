import fc from 'fast-check';
import { ProtocolError } from '../../src/errors';
import { FrameDecoder } from '../../src/protocol/frame-decoder';
import { MAX_MESSAGE_SIZE, encodeResponseFrame, parseFrameBody } from '../../src/protocol/frame';
import { decodeResponse } from '../../src/protocol/message-codec';
import type { Response } from '../../src/protocol/response-schema';

const responses: Response[] = [
  { type: 'Pong' },
  { type: 'Published', offset: 42n, partition: 3 },
  { type: 'Error', message: 'UNKNOWN_TOPIC: nope' },
  {
    type: 'Messages',
    messages: [{ offset: 7n, partition: 0, value: Buffer.from('hello'), timestamp: -5n, headers: [['h', Buffer.from('v')]] }],
  },
];
const frames = responses.map((r, i) => encodeResponseFrame(r, i + 1));
const stream = Buffer.concat(frames);

function decodeAll(chunks: Buffer[]): Response[] {
  const decoder = new FrameDecoder();
  const out: Response[] = [];
  for (const chunk of chunks) {
    for (const frame of decoder.push(chunk)) out.push(decodeResponse(frame.payload));
  }
  expect(decoder.buffered).toBe(0);
  return out;
}

describe('FrameDecoder', () => {
  it('decodes many frames delivered in one chunk', () => {
    expect(decodeAll([stream])).toEqual(responses);
  });

  it('decodes frames delivered one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(decodeAll(bytes)).toEqual(responses);
  });

  it('decodes frames under any chunking (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(stream.subarray(last, p));
          last = p;
        }
        chunks.push(stream.subarray(last));
        expect(decodeAll(chunks.filter((c) => c.length > 0))).toEqual(responses);
      }),
    );
  });

  it('keeps correlation ids with their frames', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(stream).map((f) => f.correlationId)).toEqual([1, 2, 3, 4]);
  });

  it('refuses a length over 10 MiB before buffering it', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_MESSAGE_SIZE + 1);
    const decoder = new FrameDecoder();
    expect(() => decoder.push(header)).toThrow(/exceeds the limit of 10485760 bytes/);
    // Split prefix: still refused as soon as the prefix is complete.
    const split = new FrameDecoder();
    expect(split.push(header.subarray(0, 2))).toEqual([]);
    expect(() => split.push(header.subarray(2))).toThrow(ProtocolError);
  });

  it('accepts a frame of exactly 10 MiB', () => {
    const body = Buffer.alloc(MAX_MESSAGE_SIZE);
    const frame = Buffer.concat([Buffer.from([0x00, 0xa0, 0x00, 0x00]), body]);
    const [decoded] = new FrameDecoder().push(frame);
    expect(decoded?.payload.length).toBe(MAX_MESSAGE_SIZE - 5);
  });

  it('refuses a frame shorter than its header and unknown or protobuf format bytes', () => {
    expect(() => new FrameDecoder().push(Buffer.from('0000000300aabb', 'hex'))).toThrow(/shorter than the 5-byte header/);
    expect(() => new FrameDecoder().push(Buffer.from('00000006070000000100', 'hex'))).toThrow(/unknown wire format byte 0x07/);
    expect(() => parseFrameBody(Buffer.from('010000000100', 'hex'))).toThrow(/protobuf/);
  });
});
