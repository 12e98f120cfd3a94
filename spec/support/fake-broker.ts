/**
 * A scriptable TCP server that speaks (or deliberately mis-speaks) the Rivven frame format, for
 * connection tests that need a peer the real broker can't be: silent, garbling, incompatible,
 * hostile (well-formed frames with malicious content: see `framePayload` and `replyPayload`).
 * Unit tests only; integration tests use the real broker.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { encodeResponseFrame } from '../../src/protocol/frame';
import { FrameDecoder } from '../../src/protocol/frame-decoder';
import { decodeRequest } from '../../src/protocol/message-codec';
import type { Request } from '../../src/protocol/request-schema';
import type { Response } from '../../src/protocol/response-schema';

export interface FakePeer {
  readonly socket: Socket;
  reply(correlationId: number, response: Response): void;
  raw(bytes: Buffer): void;
  /** Reply with a hand-built postcard payload (see `framePayload`), framed with `correlationId`. */
  replyPayload(correlationId: number, payload: Buffer): void;
}

/** `[u32 BE length][0x00 postcard][u32 BE correlation id][payload]`: any payload, even one our encoder would refuse. */
export function framePayload(correlationId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUInt32BE(payload.length + 5, 0);
  header[4] = 0x00;
  header.writeUInt32BE(correlationId, 5);
  return Buffer.concat([header, payload]);
}

/**
 * A SCRAM-SHA-256 server side for `password`: honest, or forging its final signature (`lie`).
 * Returns undefined for requests that are not part of SCRAM (chain it with another handler).
 */
export function scramHandler(password: string, lie?: 'signature'): FakeHandler {
  const salt = randomBytes(16);
  let clientFirstBare = '';
  let serverFirst = '';
  return (request) => {
    if (request.type === 'ScramClientFirst') {
      const text = request.message.toString();
      clientFirstBare = text.slice(3);
      const nonce = /r=([^,]+)/.exec(text)![1]!;
      serverFirst = `r=${nonce}${randomBytes(8).toString('hex')},s=${salt.toString('base64')},i=4096`;
      return { type: 'ScramServerFirst', message: Buffer.from(serverFirst) };
    }
    if (request.type === 'ScramClientFinal') {
      const text = request.message.toString();
      const authMessage = `${clientFirstBare},${serverFirst},${text.slice(0, text.indexOf(',p='))}`;
      const serverKey = createHmac('sha256', pbkdf2Sync(password, salt, 4096, 32, 'sha256')).update('Server Key').digest();
      const signature = lie === 'signature' ? createHash('sha256').update('forged').digest() : createHmac('sha256', serverKey).update(authMessage).digest();
      return { type: 'ScramServerFinal', message: Buffer.from(`v=${signature.toString('base64')}`), sessionId: 's-1', expiresIn: 3600n };
    }
    return undefined;
  };
}

/** What to do with each request: answer it, or return undefined to stay silent. */
export type FakeHandler = (request: Request, correlationId: number, peer: FakePeer) => Response | undefined;

/** Answers the handshake as a compatible broker, Ping with Pong, and stays silent otherwise. */
export const politeHandler: FakeHandler = (request) => {
  if (request.type === 'Handshake') return { type: 'HandshakeResult', serverVersion: 2, compatible: true, message: 'ok' };
  if (request.type === 'Ping') return { type: 'Pong' };
  return undefined;
};

export class FakeBroker {
  private readonly server: Server;
  readonly peers: FakePeer[] = [];
  readonly received: Request[] = [];
  private connectionWaiters: ((peer: FakePeer) => void)[] = [];
  private requestWaiters: { count: number; type: string; resolve: () => void }[] = [];

  private constructor(private handler: FakeHandler, tls?: TlsOptions) {
    this.server = tls ? createTlsServer(tls, (socket) => this.accept(socket)) : createServer((socket) => this.accept(socket));
    // Failed TLS handshakes are what some tests are about; they must not crash the server.
    this.server.on('tlsClientError', () => undefined);
  }

  /** Start listening on a free loopback port; with `tls`, a TLS server (node:tls options). */
  static async start(handler: FakeHandler = politeHandler, tls?: TlsOptions): Promise<FakeBroker> {
    const broker = new FakeBroker(handler, tls);
    await new Promise<void>((resolve) => broker.server.listen(0, '127.0.0.1', resolve));
    return broker;
  }

  get address(): string {
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('not listening');
    return `127.0.0.1:${address.port}`;
  }

  setHandler(handler: FakeHandler): void {
    this.handler = handler;
  }

  /** Resolves with the next peer to connect (or the latest, if one already has). */
  nextPeer(): Promise<FakePeer> {
    return new Promise((resolve) => this.connectionWaiters.push(resolve));
  }

  /** Resolves once `count` requests of `type` have arrived in total. */
  whenReceived(type: string, count = 1): Promise<void> {
    return new Promise((resolve) => {
      this.requestWaiters.push({ type, count, resolve });
      this.settleWaiters();
    });
  }

  private settleWaiters(): void {
    this.requestWaiters = this.requestWaiters.filter((w) => {
      const done = this.received.filter((r) => r.type === w.type).length >= w.count;
      if (done) w.resolve();
      return !done;
    });
  }

  async stop(): Promise<void> {
    for (const peer of this.peers) peer.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const decoder = new FrameDecoder();
    const peer: FakePeer = {
      socket,
      reply: (correlationId, response) => socket.write(encodeResponseFrame(response, correlationId)),
      raw: (bytes) => socket.write(bytes),
      replyPayload: (correlationId, payload) => socket.write(framePayload(correlationId, payload)),
    };
    this.peers.push(peer);
    const waiters = this.connectionWaiters;
    this.connectionWaiters = [];
    for (const waiter of waiters) waiter(peer);
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        // Like a real broker: bytes that are not Rivven frames end the connection.
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const request = decodeRequest(frame.payload);
        this.received.push(request);
        this.settleWaiters();
        const response = this.handler(request, frame.correlationId, peer);
        if (response !== undefined) peer.reply(frame.correlationId, response);
      }
    });
  }
}
