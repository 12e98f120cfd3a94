import diagnostics from 'node:diagnostics_channel';
import { CHANNEL_NAMES, Trace, isTraced, publishConnectionEvent, requestChannel, type RequestTraceMessage } from '../../src/observability/channels';
import { createLog, formatLogLine, Log, type LogFields, type Logger } from '../../src/observability/log';

function recordingLogger(): Logger & { lines: { level: string; fields: LogFields; message: string }[] } {
  const lines: { level: string; fields: LogFields; message: string }[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => lines.push({ level, fields, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('Log', () => {
  it('filters by level, adds base fields, and drops secret-looking fields', () => {
    const sink = recordingLogger();
    const log = createLog('consumer', sink, 'info', { clientId: 'c1' });
    log.debug('hidden');
    log.info('joined', { groupId: 'g', password: 'hunter2', clientProof: 'abc', nonce: 'n', topic: 't' });
    log.child({ broker: '127.0.0.1:1' }).warn('broker gone');
    expect(sink.lines.map((l) => l.message)).toEqual(['joined', 'broker gone']);
    expect(sink.lines[0]!.fields).toEqual({ component: 'consumer', clientId: 'c1', groupId: 'g', topic: 't' });
    expect(sink.lines[1]!.fields).toMatchObject({ component: 'consumer', broker: '127.0.0.1:1' });
    expect(JSON.stringify(sink.lines)).not.toMatch(/hunter2|abc/);
  });

  it('logger: null is silent, and a throwing logger does not break the caller', () => {
    expect(createLog('x', null, 'debug').enabled('error')).toBe(false);
    const throwing: Logger = { debug: () => { throw new Error('x'); }, info: () => { throw new Error('x'); }, warn: () => { throw new Error('x'); }, error: () => { throw new Error('x'); } };
    expect(() => createLog('x', throwing, 'debug').error('boom')).not.toThrow();
    expect(Log.silent.enabled('error')).toBe(false);
  });

  it('the default line format is one line with key=value pairs', () => {
    expect(formatLogLine('warn', { component: 'producer', topic: 'orders', partition: 2, delayMs: 100, note: 'a b' }, 'retrying')).toBe(
      'rivven-rx WARN producer: retrying topic=orders partition=2 delayMs=100 note="a b"',
    );
  });
});

describe('channels', () => {
  it('say nobody listens until someone subscribes (callers then build nothing)', () => {
    expect(isTraced(requestChannel)).toBe(false);
    const noop = (): void => undefined;
    const listener = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
    const channel = diagnostics.tracingChannel(CHANNEL_NAMES.request);
    channel.subscribe(listener);
    expect(isTraced(requestChannel)).toBe(true);
    channel.unsubscribe(listener);
    expect(isTraced(requestChannel)).toBe(false);
  });

  it('publish start/end/asyncEnd (and error) with one message object', () => {
    const seen: string[] = [];
    const handlers = {
      start: (m: unknown) => seen.push(`start ${(m as RequestTraceMessage).requestType}`),
      end: () => seen.push('end'),
      asyncStart: () => seen.push('asyncStart'),
      asyncEnd: (m: unknown) => seen.push(`asyncEnd ${(m as RequestTraceMessage).bytesIn ?? '-'}`),
      error: (m: unknown) => seen.push(`error ${String((m as RequestTraceMessage).error)}`),
    };
    const channel = diagnostics.tracingChannel(CHANNEL_NAMES.request);
    channel.subscribe(handlers);
    try {
      new Trace<RequestTraceMessage>(requestChannel, { requestType: 'Ping', broker: 'b', correlationId: 1, bytesOut: 9 }).finish({ bytesIn: 12 });
      new Trace<RequestTraceMessage>(requestChannel, { requestType: 'Consume', broker: 'b', correlationId: 2, bytesOut: 9 }).fail('boom');
    } finally {
      channel.unsubscribe(handlers);
    }
    expect(seen).toEqual(['start Ping', 'end', 'asyncStart', 'asyncEnd 12', 'start Consume', 'end', 'error boom', 'asyncStart', 'asyncEnd -']);
  });

  it('plain channels publish only with subscribers', () => {
    const seen: unknown[] = [];
    const listener = (m: unknown) => seen.push(m);
    let built = 0;
    publishConnectionEvent(() => {
      built++;
      return { event: 'open', broker: 'b', clientId: 'c' };
    });
    diagnostics.subscribe(CHANNEL_NAMES.connection, listener);
    publishConnectionEvent(() => ({ event: 'fail', broker: 'b', clientId: 'c' }));
    diagnostics.unsubscribe(CHANNEL_NAMES.connection, listener);
    expect(built).toBe(0);
    expect(seen).toEqual([{ event: 'fail', broker: 'b', clientId: 'c' }]);
  });
});
