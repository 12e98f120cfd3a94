/**
 * `instrumentRivven()`: OpenTelemetry for rivven-rx, wired the way a service would: rivven-rx publishes on
 * `node:diagnostics_channel`; `instrumentRivven()` turns those messages into spans and metrics with
 * `@opentelemetry/api`, following the OpenTelemetry messaging semantic conventions. Register your
 * SDK (tracer and meter providers, exporters) as usual; this file only uses the API.
 *
 * rivvend 0.0.22 cannot carry trace context in record headers (its publish requests have no headers
 * field), so a consumer's span cannot be a child of the producer's: spans are linked by
 * `messaging.destination.name` + `messaging.destination.partition.id` + offset attributes instead.
 *
 * Used by examples/opentelemetry.ts (and its test); copy it into your service.
 */
import diagnostics from 'node:diagnostics_channel';
import { SpanKind, SpanStatusCode, metrics, trace, type Attributes, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import {
  CHANNEL_NAMES,
  type CommitTraceMessage,
  type FetchTraceMessage,
  type ProduceTraceMessage,
  type RequestTraceMessage,
  type TransactionTraceMessage,
} from 'rivven-rx';

const SYSTEM = 'rivven';

interface Handlers {
  start?: (message: unknown) => void;
  end?: (message: unknown) => void;
  asyncStart?: (message: unknown) => void;
  asyncEnd?: (message: unknown) => void;
  error?: (message: unknown) => void;
}

/**
 * Subscribe to rivven-rx's channels and record spans (send / receive / settle) and the request
 * duration histogram. Returns the function that unsubscribes everything.
 */
export function instrumentRivven(options: { tracer?: Tracer; meter?: Meter } = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer('rivven-rx');
  const meter = options.meter ?? metrics.getMeter('rivven-rx');
  const operationDuration = meter.createHistogram('messaging.client.operation.duration', {
    unit: 's',
    description: 'Duration of rivven-rx operations (send, receive, settle)',
  });
  const requestDuration = meter.createHistogram('rivven.client.request.duration', { unit: 's', description: 'Duration of each broker request' });
  const sentMessages = meter.createCounter('messaging.client.sent.messages', { description: 'Records acknowledged by the broker' });
  const consumedMessages = meter.createCounter('messaging.client.consumed.messages', { description: 'Records fetched' });
  const open = new WeakMap<object, { span?: Span; startedAt: number; attributes: Attributes }>();
  const unsubscribers: (() => void)[] = [];

  function traced<M extends object>(
    name: string,
    begin: (message: M) => { span?: Span; attributes: Attributes },
    finish: (message: M, span: Span | undefined, attributes: Attributes, seconds: number) => void,
  ): void {
    const channel = diagnostics.tracingChannel(name);
    const handlers: Handlers = {
      start: (message) => {
        const m = message as M;
        open.set(m, { ...begin(m), startedAt: performance.now() });
      },
      error: (message) => {
        const entry = open.get(message as object);
        const error = (message as { error?: unknown }).error;
        entry?.span?.recordException(error instanceof Error ? error : String(error));
        entry?.span?.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        if (entry) entry.attributes['error.type'] = error instanceof Error ? ((error as { code?: string }).code ?? error.name) : 'error';
      },
      asyncEnd: (message) => {
        const entry = open.get(message as object);
        if (entry === undefined) return;
        open.delete(message as object);
        finish(message as M, entry.span, entry.attributes, (performance.now() - entry.startedAt) / 1000);
        entry.span?.end();
      },
    };
    channel.subscribe(handlers as Parameters<typeof channel.subscribe>[0]);
    unsubscribers.push(() => channel.unsubscribe(handlers as Parameters<typeof channel.unsubscribe>[0]));
  }

  traced<ProduceTraceMessage>(
    CHANNEL_NAMES.produce,
    (m) => {
      const attributes: Attributes = {
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': m.topic,
        'messaging.destination.partition.id': String(m.partition),
        'messaging.rivven.partition': m.partition,
        'messaging.batch.message_count': m.recordCount,
      };
      return { span: tracer.startSpan(`send ${m.topic}`, { kind: SpanKind.PRODUCER, attributes }), attributes };
    },
    (m, span, attributes, seconds) => {
      if (m.baseOffset !== undefined) span?.setAttribute('messaging.rivven.base_offset', m.baseOffset.toString());
      operationDuration.record(seconds, attributes);
      if (m.error === undefined) sentMessages.add(m.recordCount, { 'messaging.system': SYSTEM, 'messaging.destination.name': m.topic });
    },
  );

  traced<FetchTraceMessage>(
    CHANNEL_NAMES.fetch,
    (m) => {
      const attributes: Attributes = {
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'receive',
        'messaging.operation.name': 'fetch',
        'messaging.destination.name': m.topic,
        'messaging.destination.partition.id': String(m.partition),
        'messaging.rivven.partition': m.partition,
        'messaging.consumer.group.name': m.groupId,
      };
      return { span: tracer.startSpan(`receive ${m.topic}`, { kind: SpanKind.CONSUMER, attributes: { ...attributes, 'messaging.rivven.offset': m.offset.toString() } }), attributes };
    },
    (m, span, attributes, seconds) => {
      span?.setAttribute('messaging.batch.message_count', m.recordCount ?? 0);
      operationDuration.record(seconds, attributes);
      if (m.recordCount) consumedMessages.add(m.recordCount, { 'messaging.system': SYSTEM, 'messaging.destination.name': m.topic });
    },
  );

  traced<CommitTraceMessage>(
    CHANNEL_NAMES.commit,
    (m) => {
      const attributes: Attributes = { 'messaging.system': SYSTEM, 'messaging.operation.type': 'settle', 'messaging.operation.name': 'commit', 'messaging.consumer.group.name': m.groupId };
      return { span: tracer.startSpan(`commit ${m.groupId}`, { kind: SpanKind.CLIENT, attributes: { ...attributes, 'messaging.batch.message_count': m.offsets.length } }), attributes };
    },
    (_m, _span, attributes, seconds) => operationDuration.record(seconds, attributes),
  );

  // A transaction, begin → commit/abort: the outcome is known at the end.
  traced<TransactionTraceMessage>(
    CHANNEL_NAMES.transaction,
    (m) => {
      const attributes: Attributes = { 'messaging.system': SYSTEM, 'messaging.operation.type': 'settle', 'messaging.operation.name': 'transaction' };
      const span = tracer.startSpan(`transaction ${m.transactionalId}`, {
        kind: SpanKind.CLIENT,
        attributes: { ...attributes, 'messaging.rivven.transactional_id': m.transactionalId, 'messaging.rivven.producer_id': m.producerId.toString(), 'messaging.rivven.producer_epoch': m.producerEpoch },
      });
      return { span, attributes };
    },
    (m, span, attributes, seconds) => {
      if (m.outcome !== undefined) span?.setAttribute('messaging.rivven.transaction.outcome', m.outcome);
      operationDuration.record(seconds, { ...attributes, 'messaging.operation.name': m.outcome ?? 'transaction' });
    },
  );

  // Every broker request: only a histogram (a span per request would drown the useful ones).
  traced<RequestTraceMessage>(
    CHANNEL_NAMES.request,
    (m) => ({ attributes: { 'messaging.system': SYSTEM, 'rivven.request.type': m.requestType, 'server.address': m.broker } }),
    (_m, _span, attributes, seconds) => requestDuration.record(seconds, attributes),
  );

  return () => {
    for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
  };
}

