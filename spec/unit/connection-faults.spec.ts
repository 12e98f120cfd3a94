/**
 * Connection behaviour against peers the real broker can't imitate: silent, garbling,
 * incompatible, or dying mid-flight. Every failure must be typed, reach every pending request, and
 * leave nothing hanging.
 */
import { firstValueFrom } from 'rxjs';
import { ConnectionError, IncompatibleBrokerError, ProtocolError, RivvenTimeoutError } from '../../src/errors';
import { encodeResponseFrame } from '../../src/protocol/frame';
import { Connection } from '../../src/transport/connection';
import type { ConnectionState } from '../../src/transport/connection-types';
import { FakeBroker, politeHandler } from '../support/fake-broker';
import { freePort } from '../support/broker-process';
import { rejection } from '../support/rejection';

let fake: FakeBroker;
beforeEach(async () => {
  fake = await FakeBroker.start();
});
afterEach(async () => {
  await fake.stop();
});

const connect = (options = {}) => firstValueFrom(Connection.connect$(fake.address, { clientId: 'fault-spec', ...options }));


describe('Connection faults', () => {
  it('sends Handshake { protocol_version: 2, client_id } first', async () => {
    const connection = await connect();
    expect(fake.received[0]).toEqual({ type: 'Handshake', protocolVersion: 2, clientId: 'fault-spec' });
    expect(connection.state).toBe('ready');
    await connection.close();
  });

  it('refuses an incompatible broker with a typed error quoting its message', async () => {
    fake.setHandler(() => ({ type: 'HandshakeResult', serverVersion: 3, compatible: false, message: 'protocol 2 is retired' }));
    const error = await rejection(connect());
    expect(error).toBeInstanceOf(IncompatibleBrokerError);
    expect(error.message).toContain('protocol 2 is retired');
    expect((error as IncompatibleBrokerError).retriable).toBe(false);
  });

  it('fails every pending request with ConnectionError when the socket dies mid-flight', async () => {
    const peer = fake.nextPeer();
    const connection = await connect();
    const states: ConnectionState[] = [];
    connection.state$.subscribe((s) => states.push(s));
    const pending = Array.from({ length: 10 }, () => firstValueFrom(connection.request$({ type: 'ListTopics' })));
    await fake.whenReceived('ListTopics', 10);
    (await peer).socket.destroy();
    const errors = await Promise.all(pending.map((p) => rejection(p)));
    for (const error of errors) expect(error).toBeInstanceOf(ConnectionError);
    expect(states).toEqual(['ready', 'failed']);
    expect(connection.inFlight).toBe(0);
    // Later requests fail at once instead of hanging.
    expect(await rejection(firstValueFrom(connection.request$({ type: 'Ping' })))).toBeInstanceOf(ConnectionError);
  });

  it('closes the connection with a ProtocolError on garbage bytes', async () => {
    const connection = await connect();
    const inFlight = firstValueFrom(connection.request$({ type: 'ListTopics' }));
    fake.peers[0]!.raw(Buffer.from('this is not a rivven frame at all'));
    const error = await rejection(inFlight);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(connection.state).toBe('failed');
  });

  it('treats a reply with an unknown correlation id as a protocol error', async () => {
    const connection = await connect();
    const inFlight = firstValueFrom(connection.request$({ type: 'ListTopics' }));
    fake.peers[0]!.raw(encodeResponseFrame({ type: 'Pong' }, 999_999));
    const error = await rejection(inFlight);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(/unknown correlation id 999999/);
  });

  it('treats an undecodable payload as a protocol error', async () => {
    const connection = await connect();
    const inFlight = firstValueFrom(connection.request$({ type: 'ListTopics' }));
    const bad = Buffer.from([0, 0, 0, 6, 0, 0, 0, 0, 2, 0x7f]); // variant index 127
    fake.peers[0]!.raw(bad);
    expect(await rejection(inFlight)).toBeInstanceOf(ProtocolError);
  });

  it('times out a request with a typed RivvenTimeoutError and drops the late reply silently', async () => {
    let late: { id: number } | undefined;
    fake.setHandler((request, id) => {
      if (request.type === 'ListTopics') {
        late = { id };
        return undefined;
      }
      return politeHandler(request, id, fake.peers[0]!);
    });
    const connection = await connect();
    const error = await rejection(firstValueFrom(connection.request$({ type: 'ListTopics' }, { timeoutMs: 50 })));
    expect(error).toBeInstanceOf(RivvenTimeoutError);
    expect(connection.stats().requestsTimedOut).toBe(1);
    // The reply arrives after the caller gave up: it is dropped, the connection stays healthy.
    const seen = firstValueFrom(connection.responses$);
    fake.peers[0]!.reply(late!.id, { type: 'Topics', topics: [] });
    expect((await seen).correlationId).toBe(late!.id);
    expect(await firstValueFrom(connection.request$({ type: 'Ping' }))).toEqual({ type: 'Pong' });
    expect(connection.state).toBe('ready');
    await connection.close();
  });

  it('fails connecting to a closed port with ConnectionError', async () => {
    const port = await freePort();
    const error = await rejection(firstValueFrom(Connection.connect$(`127.0.0.1:${port}`)));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('times out a broker that accepts but never completes the handshake', async () => {
    fake.setHandler(() => undefined);
    const error = await rejection(connect({ connectionTimeoutMs: 100 }));
    expect(error).toBeInstanceOf(RivvenTimeoutError);
    expect(error.message).toMatch(/within 100 ms/);
  });

  it('rejects a malformed address with a ConfigError', async () => {
    const error = await rejection(firstValueFrom(Connection.connect$('no-port-here')));
    expect(error.name).toBe('ConfigError');
  });

  it('close() waits for in-flight replies, then refuses new requests', async () => {
    let held: { id: number } | undefined;
    fake.setHandler((request, id, peer) => {
      if (request.type === 'ListTopics') {
        held = { id };
        return undefined;
      }
      return politeHandler(request, id, peer);
    });
    const connection = await connect();
    const reply = firstValueFrom(connection.request$({ type: 'ListTopics' }));
    await fake.whenReceived('ListTopics');
    const closing = connection.close();
    expect(connection.state).toBe('closing');
    fake.peers[0]!.reply(held!.id, { type: 'Topics', topics: ['a'] });
    expect(await reply).toEqual({ type: 'Topics', topics: ['a'] });
    await closing;
    expect(connection.state).toBe('closed');
    expect(await rejection(firstValueFrom(connection.request$({ type: 'Ping' })))).toBeInstanceOf(ConnectionError);
  });

  it('close() fails what is still pending after its grace period', async () => {
    fake.setHandler((request, id, peer) => (request.type === 'ListTopics' ? undefined : politeHandler(request, id, peer)));
    const connection = await connect({ closeTimeoutMs: 50 });
    const failed = rejection(firstValueFrom(connection.request$({ type: 'ListTopics' })));
    await connection.close();
    expect(await failed).toBeInstanceOf(ConnectionError);
    expect(connection.state).toBe('closed');
  });
});
