/**
 * Hostile-input fuzzing: ≥100,000 random and mutated frames through the frame decoder and the
 * response/request decoders. Only typed ProtocolErrors may come out, and memory stays bounded.
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProtocolError } from '../../src/errors';
import { FrameDecoder } from '../../src/protocol/frame-decoder';
import { encodeResponseFrame } from '../../src/protocol/frame';
import { decodeRequest, decodeResponse } from '../../src/protocol/message-codec';
import { RESPONSE_VARIANTS, type Response } from '../../src/protocol/response-schema';
import { arbitraryEnum } from '../support/schema-arbitrary';

/** Valid frames of every response variant: the seeds that mutations start from. */
const seeds: Buffer[] = fc
  .sample(arbitraryEnum(RESPONSE_VARIANTS), { numRuns: 400, seed: 42 })
  .map((r, i) => encodeResponseFrame(r as Response, i));

function mutate(rng: () => number, frame: Buffer): Buffer {
  const bytes = Buffer.from(frame);
  const kind = Math.floor(rng() * 6);
  const at = Math.floor(rng() * bytes.length);
  switch (kind) {
    case 0: // flip bits
      for (let i = 0; i < 1 + Math.floor(rng() * 4); i++) bytes[Math.floor(rng() * bytes.length)]! ^= 1 << Math.floor(rng() * 8);
      return bytes;
    case 1: // truncate the body but keep the header's length (a short frame split across reads)
      return bytes.subarray(0, Math.max(4, at));
    case 2: // random byte in the payload
      if (bytes.length > 9) bytes[9 + Math.floor(rng() * (bytes.length - 9))] = Math.floor(rng() * 256);
      return bytes;
    case 3: // corrupt the length prefix
      bytes.writeUInt32BE(Math.floor(rng() * 0xffff_ffff), 0);
      return bytes;
    case 4: // insert garbage (length prefix fixed up so the decoder reaches the payload)
      {
        const garbage = Buffer.from(Array.from({ length: 1 + Math.floor(rng() * 8) }, () => Math.floor(rng() * 256)));
        const out = Buffer.concat([bytes.subarray(0, at < 9 ? 9 : at), garbage, bytes.subarray(at < 9 ? 9 : at)]);
        out.writeUInt32BE(out.length - 4, 0);
        return out;
      }
    default: // huge varints where a length is expected
      if (bytes.length > 10) bytes.fill(0xff, 10, Math.min(bytes.length, 10 + 1 + Math.floor(rng() * 10)));
      return bytes;
  }
}

function feed(decoder: FrameDecoder, chunk: Buffer, decode: (payload: Buffer) => unknown): 'ok' | 'error' {
  try {
    for (const frame of decoder.push(chunk)) decode(frame.payload);
    return 'ok';
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.message.length === 0) throw error;
    return 'error';
  }
}

/** A real garbage collection, so heap figures measure what is retained, not what awaits collection. */
function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

describe('decoder fuzzing', () => {
  it('turns 100,000 mutated and random frames into values or typed ProtocolErrors, with bounded memory', () => {
    let state = 0x9e3779b9;
    const rng = () => {
      // xorshift32: deterministic, so a failure reproduces.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 0x1_0000_0000;
    };
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    let peakHeap = heapBefore;
    let errors = 0;
    let decoded = 0;
    const total = 100_000;
    for (let i = 0; i < total; i++) {
      const decoder = new FrameDecoder();
      let frame: Buffer;
      if (i % 10 === 0) {
        frame = Buffer.from(Array.from({ length: Math.floor(rng() * 64) }, () => Math.floor(rng() * 256)));
      } else {
        frame = mutate(rng, seeds[i % seeds.length]!);
      }
      const decode = i % 2 === 0 ? decodeResponse : decodeRequest;
      // Deliver in two chunks split at a random point, as TCP might.
      const cut = Math.floor(rng() * (frame.length + 1));
      const first = feed(decoder, frame.subarray(0, cut), decode);
      const result = first === 'error' ? 'error' : feed(decoder, frame.subarray(cut), decode);
      if (result === 'error') errors++;
      else decoded++;
      // Whatever a frame claims, the decoder never holds more than the frame's own bytes.
      if (decoder.buffered > frame.length) throw new Error(`decoder buffered ${decoder.buffered} bytes for a ${frame.length}-byte input`);
      if (i % 10_000 === 0) {
        collectGarbage();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      }
    }
    expect(errors + decoded).toBe(total);
    expect(errors).toBeGreaterThan(total / 4);
    // Hostile lengths up to 4 GiB were claimed; nothing may be retained for them.
    expect(peakHeap - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('never throws anything but ProtocolError for arbitrary payload bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const decode of [decodeResponse, decodeRequest]) {
          try {
            decode(Buffer.from(bytes));
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
          }
        }
      }),
      { numRuns: 20_000 },
    );
  });
});
