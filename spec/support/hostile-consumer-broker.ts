/**
 * A fake broker for Consumer hostile-broker tests (built on fake-broker.ts, answers encoded with
 * the project's own encoders): it completes the handshake and answers the requests a static-
 * assignment Consumer makes (GetOffset: nothing committed; GetOffsetBounds; CommitOffset;
 * GetMetadata) politely, and every `Consume` with whatever the test scripts — or not at all.
 */
import type { Request } from '../../src/protocol/request-schema';
import type { MessageData, Response } from '../../src/protocol/response-schema';
import { FakeBroker, type FakePeer } from './fake-broker';

export type ConsumeRequest = Extract<Request, { type: 'Consume' }>;

export interface HostileConsumerBrokerOptions {
  /** Answer to the n-th (0-based) Consume; undefined = stay silent. */
  consume(request: ConsumeRequest, n: number): Response | undefined;
  /** What GetOffsetBounds reports. Default earliest 0, latest 1,000,000. */
  bounds?: { earliest: bigint; latest: bigint };
}

export interface HostileConsumerBroker {
  readonly address: string;
  readonly broker: FakeBroker;
  /** Consume requests received so far. */
  consumes(): number;
  /** TCP connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

export async function startHostileConsumerBroker(options: HostileConsumerBrokerOptions): Promise<HostileConsumerBroker> {
  let consumes = 0;
  const bounds = options.bounds ?? { earliest: 0n, latest: 1_000_000n };
  const broker = await FakeBroker.start((request: Request, _correlationId: number, _peer: FakePeer): Response | undefined => {
    switch (request.type) {
      case 'Handshake':
        return { type: 'HandshakeResult', serverVersion: 2, compatible: true, message: 'ok' };
      case 'Ping':
        return { type: 'Pong' };
      case 'GetOffset':
        return { type: 'Offset', offset: undefined };
      case 'GetOffsetBounds':
        return { type: 'OffsetBounds', earliest: bounds.earliest, latest: bounds.latest };
      case 'CommitOffset':
        return { type: 'OffsetCommitted' };
      case 'GetMetadata':
        return { type: 'Metadata', name: request.topic, partitions: 1 };
      case 'LeaveGroup':
        return { type: 'LeaveGroupResult' };
      case 'Consume':
        return options.consume(request, consumes++);
      default:
        return { type: 'Error', message: `UNSUPPORTED: the hostile test broker does not answer ${request.type}` };
    }
  });
  return {
    address: broker.address,
    broker,
    consumes: () => consumes,
    connections: () => broker.peers.length,
    stop: () => broker.stop(),
  };
}

/** `count` records of `partition` from `offset`, each with `value`. */
export function records(offset: bigint, count: number, value: Buffer = Buffer.from('v'), partition = 0): MessageData[] {
  return Array.from({ length: count }, (_, i) => ({ offset: offset + BigInt(i), partition, key: undefined, value, timestamp: 1_700_000_000_000n, headers: [] }));
}

/**
 * A zstd frame of `size` zero bytes built from RLE blocks (4 bytes per 128 KiB), declaring its
 * content size, inside Rivven's framing `[0x12 = zstd + size][size u32 LE][frame]`: what a
 * decompression bomb looks like, without compressing anything.
 */
export function zstdBombValue(size: number): Buffer {
  const BLOCK = 128 * 1024;
  const blocks = Math.ceil(size / BLOCK);
  const out = Buffer.alloc(5 + 4 + 1 + 8 + blocks * 4);
  let at = 0;
  out[at++] = 0x12;
  out.writeUInt32LE(size, at);
  at += 4;
  out.writeUInt32LE(0xfd2fb528, at); // zstd magic
  at += 4;
  out[at++] = 0xe0; // 8-byte Frame_Content_Size, single segment, no checksum, no dictionary
  out.writeBigUInt64LE(BigInt(size), at);
  at += 8;
  for (let i = 0; i < blocks; i++) {
    const blockSize = Math.min(BLOCK, size - i * BLOCK);
    const last = i === blocks - 1 ? 1 : 0;
    const header = last | (1 << 1) | (blockSize << 3); // RLE block
    out[at++] = header & 0xff;
    out[at++] = (header >> 8) & 0xff;
    out[at++] = (header >> 16) & 0xff;
    out[at++] = 0; // the byte repeated
  }
  return out;
}

/** Samples RSS and external memory every 25 ms; `max()` is the largest growth over the baseline. */
export function memoryWatch(): { max(): { rss: number; external: number }; stop(): void } {
  const base = process.memoryUsage();
  let rss = 0;
  let external = 0;
  const sample = () => {
    const now = process.memoryUsage();
    rss = Math.max(rss, now.rss - base.rss);
    external = Math.max(external, now.external + now.arrayBuffers - base.external - base.arrayBuffers);
  };
  const timer = setInterval(sample, 25);
  return {
    max: () => {
      sample();
      return { rss, external };
    },
    stop: () => clearInterval(timer),
  };
}
