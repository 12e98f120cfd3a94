/**
 * The `rivven-rx:request` trace of one request on a Connection: started when its frame is queued,
 * ended with the request, whichever way it ends. Apart from the request path so that path pays
 * one `isTraced` check when nobody listens, and a trace's whole lifecycle is in one place.
 */
import { Trace, isTraced, requestChannel, type RequestTraceMessage } from '../observability/channels.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { RequestSubscriber } from './connection-pending.js';

/** A trace for a request about to be sent, or undefined when nobody listens on the channel. */
export function startRequestTrace(
  requestType: string,
  broker: BrokerAddress,
  correlationId: number,
  bytesOut: number,
): Trace<RequestTraceMessage> | undefined {
  // The address is formatted only for a listener: an untraced request allocates nothing here.
  return isTraced(requestChannel)
    ? new Trace(requestChannel, { requestType, broker: formatAddress(broker), correlationId, bytesOut })
    : undefined;
}

/** The subscriber of a traced request: the trace ends with the request, whichever way it ends. */
export function tracedSubscriber(subscriber: RequestSubscriber, trace: Trace<RequestTraceMessage>): RequestSubscriber {
  return {
    next: (response) => {
      trace.message.responseType = response.type;
      subscriber.next(response);
    },
    complete: () => {
      trace.finish();
      subscriber.complete();
    },
    error: (error) => {
      trace.fail(error);
      subscriber.error(error);
    },
  };
}
