/**
 * One request from a fresh process to a (hostile) fake broker, measured: memory retained after
 * GC (heap + external + array buffers, and RSS), the longest event-loop stall, the outcome. Run
 * by spec/unit/hostile-broker.spec.ts with `node --expose-gc hostile-client.js <json>`, one
 * scenario per process so that nothing else's garbage is counted. Prints one JSON line.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client.js';
import { decodeResponse, encodeResponse } from '../../src/protocol/message-codec.js';

export interface HostileClientConfig {
  address: string;
  request: 'consume' | 'describeGroup';
}

export interface HostileClientReport {
  outcome: 'value' | 'error';
  errorName?: string;
  errorMessage?: string;
  /** Records (consume) or map entries (describeGroup) received. */
  items?: number;
  elapsedMs: number;
  /** Longest gap between 5 ms ticks while the request ran, minus the 5 ms (wall clock: includes time descheduled). */
  maxBlockMs: number;
  /** CPU time this process used during that longest gap (what it really spent; GC threads included). */
  maxBlockCpuMs: number;
  /** After GC, with the result still referenced (what the caller would hold), vs. before. */
  retainedMb: number;
  rssGrowthMb: number;
  peakRssGrowthMb: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function retainedBytes(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as HostileClientConfig;
  const client = await firstValueFrom(Client.connect$(config.address, { clientId: 'hostile-client', quickAck: false }));
  // Warm the codec (and everything on the request path) first, like any running service.
  for (let i = 0; i < 20; i++) await firstValueFrom(client.ping$());
  const sample = encodeResponse({
    type: 'Messages',
    messages: Array.from({ length: 2_000 }, (_, i) => ({ offset: BigInt(i), partition: 0, value: Buffer.alloc(50), timestamp: 0n, headers: [['k', Buffer.alloc(1)]] })),
  });
  for (let i = 0; i < 50; i++) decodeResponse(sample);
  const before = retainedBytes();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  let maxBlockMs = 0;
  let maxBlockCpuMs = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const ticker = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    if (now - last - 5 > maxBlockMs) {
      maxBlockMs = now - last - 5;
      maxBlockCpuMs = (cpu.user + cpu.system) / 1000;
    }
    last = now;
    lastCpu = process.cpuUsage();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);
  const started = performance.now();
  let result: unknown;
  let report: Partial<HostileClientReport>;
  try {
    if (config.request === 'consume') {
      const records = await firstValueFrom(client.consume$('t', { partition: 0, offset: 0n, maxMessages: 500, valueFraming: 'raw' }));
      result = records;
      report = { outcome: 'value', items: records.length };
    } else {
      const group = await firstValueFrom(client.describeGroup$('g'));
      result = group;
      let entries = 0;
      for (const partitions of group.offsets.values()) entries += partitions.size;
      report = { outcome: 'value', items: entries };
    }
  } catch (error) {
    report = { outcome: 'error', errorName: (error as Error).constructor.name, errorMessage: (error as Error).message };
  }
  const elapsedMs = performance.now() - started;
  // One more tick so a stall at the very end is seen.
  await new Promise((resolve) => setTimeout(resolve, 10));
  clearInterval(ticker);
  const retained = retainedBytes() - before;
  const rss = process.memoryUsage().rss;
  peakRss = Math.max(peakRss, rss);
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  const full: HostileClientReport = {
    ...(report as HostileClientReport),
    elapsedMs: Math.round(elapsedMs),
    maxBlockMs: Math.round(maxBlockMs),
    maxBlockCpuMs: Math.round(maxBlockCpuMs),
    retainedMb: mb(retained),
    rssGrowthMb: mb(rss - rssBefore),
    peakRssGrowthMb: mb(peakRss - rssBefore),
  };
  process.stdout.write(`${JSON.stringify(full)}\n`);
  void result;
  await client.close().catch(() => undefined);
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ outcome: 'crash', errorMessage: String((error as Error)?.stack ?? error) })}\n`);
  process.exitCode = 1;
});
