/**
 * The diagnostics channels fire with their documented shapes against the real broker, and a
 * client works the same with and without listeners.
 */
import diagnostics from 'node:diagnostics_channel';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { ServerError } from '../../src/errors';
import { CHANNEL_NAMES, type ConnectionEventMessage, type RequestTraceMessage } from '../../src/observability/channels';
import { freePort } from '../support/broker-process';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

interface Seen {
  event: string;
  message: RequestTraceMessage;
}

function listenToRequests(): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = [];
  const at = (event: string) => (message: unknown) => seen.push({ event, message: { ...(message as RequestTraceMessage) } });
  const handlers = { start: at('start'), end: at('end'), asyncStart: at('asyncStart'), asyncEnd: at('asyncEnd'), error: at('error') };
  const channel = diagnostics.tracingChannel(CHANNEL_NAMES.request);
  channel.subscribe(handlers);
  return { seen, stop: () => channel.unsubscribe(handlers) };
}

describe('rivven-rx:request', () => {
  it('traces every request: type, broker, correlation id, bytes out and in, the response type', async () => {
    const requests = listenToRequests();
    const connections: ConnectionEventMessage[] = [];
    const onConnection = (m: unknown) => connections.push(m as ConnectionEventMessage);
    diagnostics.subscribe(CHANNEL_NAMES.connection, onConnection);
    try {
      const client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'traced', quickAck: false }));
      const topic = unique('traced');
      await firstValueFrom(client.createTopic$(topic, 1));
      await firstValueFrom(client.publish$(topic, { value: 'v', partition: 0 }));
      await expect(firstValueFrom(client.getMetadata$(unique('missing')))).rejects.toBeInstanceOf(ServerError);
      await client.close();

      const done = requests.seen.filter((s) => s.event === 'asyncEnd').map((s) => s.message);
      const types = done.map((m) => m.requestType);
      expect(types).toEqual(expect.arrayContaining(['Handshake', 'CreateTopic', 'Publish', 'GetMetadata']));
      const publish = done.find((m) => m.requestType === 'Publish')!;
      expect(publish).toMatchObject({ broker: testBroker().address, responseType: 'Published' });
      expect(publish.correlationId).toBeGreaterThan(0);
      expect(publish.bytesOut).toBeGreaterThan(9);
      expect(publish.bytesIn).toBeGreaterThan(0);
      // A broker Error reply is an answer: the request trace ends normally and names it.
      expect(done.find((m) => m.requestType === 'GetMetadata')).toMatchObject({ responseType: 'Error' });
      // start, end, asyncStart, asyncEnd in that order for each request.
      const forPublish = requests.seen.filter((s) => s.message.correlationId === publish.correlationId).map((s) => s.event);
      expect(forPublish).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
      expect(connections).toEqual([
        { event: 'open', broker: testBroker().address, clientId: 'traced' },
        { event: 'close', broker: testBroker().address, clientId: 'traced' },
      ]);
    } finally {
      requests.stop();
      diagnostics.unsubscribe(CHANNEL_NAMES.connection, onConnection);
    }
  });

  it('a broker that is not there: no request is traced and no connection opens', async () => {
    const requests = listenToRequests();
    const connections: ConnectionEventMessage[] = [];
    const onConnection = (m: unknown) => connections.push(m as ConnectionEventMessage);
    diagnostics.subscribe(CHANNEL_NAMES.connection, onConnection);
    try {
      const dead = `127.0.0.1:${await freePort()}`;
      await expect(firstValueFrom(Client.connect$(dead, { connectionTimeoutMs: 2_000 }))).rejects.toThrow();
      // Nothing was sent to a broker that never answered; the attempt itself is not a connection event.
      expect(requests.seen).toEqual([]);
    } finally {
      requests.stop();
      diagnostics.unsubscribe(CHANNEL_NAMES.connection, onConnection);
    }
    expect(connections.every((c) => c.event !== 'open')).toBe(true);
  });
});
