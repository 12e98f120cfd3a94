// The codec workload, TypeScript side: rivven-rx's postcard codec on the same shapes the Rust side
// times with rivven-protocol (interop/src/bench_codec.rs): `requestToWire` of a PublishBatch of
// N × size B, and `parseFrameBody` + `decodeResponse` of a Messages response of N records.
import { performance } from 'node:perf_hooks';
import { rivven } from './rivven.mjs';
import { benchValue } from './values.mjs';

const { decodeResponse, parseFrameBody, requestToWire, responseToWire } = rivven;

export function publishBatch(records, valueSize) {
  const batch = [];
  for (let i = 0; i < records; i++) batch.push({ value: benchValue(i, valueSize) });
  return { type: 'PublishBatch', topic: 'bench-codec', partition: 0, records: batch, leaderEpoch: undefined };
}

export function messagesResponse(records, valueSize) {
  const messages = [];
  for (let i = 0; i < records; i++) {
    messages.push({ offset: BigInt(i), partition: 0, key: undefined, value: benchValue(i, valueSize), timestamp: 1_700_000_000_000n + BigInt(i), headers: [] });
  }
  return { type: 'Messages', messages };
}

function timeLoop(millis, op) {
  const warmupEnd = performance.now() + millis / 4;
  while (performance.now() < warmupEnd) op();
  const started = performance.now();
  let iterations = 0;
  let sink = 0;
  while (performance.now() - started < millis) {
    sink += op();
    iterations++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (sink < 0) throw new Error('unreachable'); // keeps the result alive
  return { seconds, iterations };
}

function side({ seconds, iterations }, wireBytes) {
  return { seconds, iterations, wireBytes, mbPerSecond: (wireBytes * iterations) / seconds / 1e6, microsPerOp: (seconds * 1e6) / iterations };
}

export function codec({ records, valueSize, millis }) {
  const request = publishBatch(records, valueSize);
  const requestWire = requestToWire(request, 1);
  const encode = timeLoop(millis, () => requestToWire(request, 1).length);
  const responseWire = responseToWire(messagesResponse(records, valueSize), 1);
  const decode = timeLoop(millis, () => {
    const response = decodeResponse(parseFrameBody(responseWire).payload);
    return response.type === 'Messages' ? response.messages.length : -1;
  });
  return { records, valueSize, encode: side(encode, requestWire.length), decode: side(decode, responseWire.length) };
}
