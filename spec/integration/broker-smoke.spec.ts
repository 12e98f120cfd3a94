/**
 * The codec against the real rivvend 0.0.22 broker started by the test setup: a raw socket, our
 * frames out, the broker's frames back.
 */
import { type Socket, connect } from 'node:net';
import { FrameDecoder } from '../../src/protocol/frame-decoder';
import { PROTOCOL_VERSION, encodeRequestFrame } from '../../src/protocol/frame';
import { decodeResponse } from '../../src/protocol/message-codec';
import type { RequestInput } from '../../src/protocol/request-schema';
import type { Response } from '../../src/protocol/response-schema';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

function open(): Promise<Socket> {
  const { host, port } = testBroker();
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Send requests with the given correlation ids; resolve with the responses keyed by id. */
function exchange(socket: Socket, requests: [number, RequestInput][]): Promise<Map<number, Response>> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder();
    const replies = new Map<number, Response>();
    const onData = (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) replies.set(frame.correlationId, decodeResponse(frame.payload));
      } catch (error) {
        reject(error);
      }
      if (replies.size === requests.length) {
        socket.off('data', onData);
        resolve(replies);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(Buffer.concat(requests.map(([id, r]) => encodeRequestFrame(r, id))));
  });
}

describe('real broker smoke test', () => {
  let socket: Socket;
  beforeEach(async () => {
    socket = await open();
  });
  afterEach(() => {
    socket.destroy();
  });

  it('answers Handshake with compatible: true and Ping with Pong', async () => {
    const replies = await exchange(socket, [
      [1, { type: 'Handshake', protocolVersion: PROTOCOL_VERSION, clientId: 'rivven-rx-smoke' }],
      [0xffff_fffe, { type: 'Ping' }],
    ]);
    expect(replies.get(1)).toMatchObject({ type: 'HandshakeResult', compatible: true, serverVersion: PROTOCOL_VERSION });
    expect(replies.get(0xffff_fffe)).toEqual({ type: 'Pong' });
  });

  it('reports an incompatible protocol version in HandshakeResult', async () => {
    const replies = await exchange(socket, [[7, { type: 'Handshake', protocolVersion: 999, clientId: 'old' }]]);
    const reply = replies.get(7);
    expect(reply).toMatchObject({ type: 'HandshakeResult', compatible: false });
    expect(reply?.type === 'HandshakeResult' && reply.message.length).toBeGreaterThan(0);
  });

  it('round-trips a record with u64 offsets through publish and consume', async () => {
    const topic = unique('smoke');
    const created = await exchange(socket, [[1, { type: 'CreateTopic', name: topic, partitions: 1 }]]);
    expect(created.get(1)).toEqual({ type: 'TopicCreated', name: topic, partitions: 1 });
    const published = await exchange(socket, [
      [2, { type: 'Publish', topic, partition: 0, key: 'k', value: 'héllo ✓' }],
    ]);
    expect(published.get(2)).toEqual({ type: 'Published', offset: 0n, partition: 0 });
    const consumed = await exchange(socket, [[3, { type: 'Consume', topic, partition: 0, offset: 0n, maxMessages: 10 }]]);
    const reply = consumed.get(3);
    expect(reply?.type).toBe('Messages');
    if (reply?.type !== 'Messages') return;
    expect(reply.messages).toHaveLength(1);
    expect(reply.messages[0]).toMatchObject({ offset: 0n, partition: 0 });
    expect(reply.messages[0]?.key?.toString()).toBe('k');
    expect(reply.messages[0]?.value.toString()).toBe('héllo ✓');
    expect(typeof reply.messages[0]?.timestamp).toBe('bigint');
  });
});
