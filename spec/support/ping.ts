import { firstValueFrom, type Observable } from 'rxjs';

/**
 * Pings through `client` and returns the latency, checked to be what a round trip measures: a
 * finite number of milliseconds, not negative, under `maxMs` (NaN, Infinity, a negative number or
 * a hang fail). `sentOver` counts requests on the connection under test — the fault proxy's
 * `framesToBroker`, a fake broker's `received.length`, a client's `requestsSent` — and must grow
 * while the ping is out, so a ping answered from anywhere else fails.
 */
export async function pingLatency(client: { ping$(): Observable<number> }, sentOver: () => number, maxMs = 10_000): Promise<number> {
  const before = sentOver();
  const latency = await firstValueFrom(client.ping$());
  expect(Number.isFinite(latency)).toBe(true);
  expect(latency).toBeGreaterThanOrEqual(0);
  expect(latency).toBeLessThan(maxMs);
  expect(sentOver()).toBeGreaterThan(before);
  return latency;
}
