/**
 * The chaos run's producer, in its own process: an idempotent Producer writing ~`ratePerSec`
 * records a second, alternating between topics that share partition numbers, keyed (murmur2).
 *
 *   STARTED
 *   A <seq> <partition> <offset>     send <seq> acknowledged
 *   F <seq> <error>                  send <seq> failed
 *   M <rssBytes> <heapUsedBytes> <health json>    every 5 s
 *   END <sent>                       after `stop` on stdin: sending stopped, flushed (bounded), closed
 *
 * Send <seq> goes to topics[seq % topics.length] with key `k<seq % keys>` and the value
 * `makeValue(writer, seq, topic, valueSize)` of the shared consistency checker, so the orchestrator
 * knows every record from its number alone.
 */
import { Producer } from '../../src/producer/producer.js';
import { makeValue } from '../support/ledger.js';
import { chaosKey, chaosTopicOf, commands, config, describe, die, report } from './chaos-io.js';

export interface ChaosProducerConfig {
  bootstrap: string;
  topics: string[];
  ratePerSec: number;
  /** Distinct keys (records are keyed `k<seq % keys>`). */
  keys: number;
  /** The ledger's writer name, and the value size (bytes). */
  writer: string;
  valueSize: number;
  /** How long `stop` waits for outstanding sends before closing anyway. */
  flushTimeoutMs: number;
}

function main(): void {
  const cfg = config<ChaosProducerConfig>();
  const producer = Producer.create({ bootstrapServers: [cfg.bootstrap], enableIdempotence: true, clientId: 'chaos-producer' });
  let seq = 0;
  let stopping = false;
  const tickMs = 50;
  const perTick = cfg.ratePerSec * (tickMs / 1000);
  let owed = 0;
  const started = Date.now();
  const ticker = setInterval(() => {
    if (stopping) return;
    // Keep to the rate by the clock, not by the number of ticks (timers drift on a busy machine).
    owed = (cfg.ratePerSec * (Date.now() - started)) / 1000 - seq;
    for (let i = 0; i < Math.min(owed, perTick * 4); i++) {
      const n = seq++;
      const topic = chaosTopicOf(cfg.topics, n);
      producer.send$({ topic, key: chaosKey(n, cfg.keys), value: makeValue(cfg.writer, n, topic, cfg.valueSize) }).subscribe({
        next: (r) => report(`A ${n} ${r.partition} ${r.offset}`),
        error: (error: unknown) => report(`F ${n} ${describe(error)}`),
      });
    }
  }, tickMs);
  const sample = () => {
    const m = process.memoryUsage();
    const h = producer.health() as unknown as Record<string, unknown>;
    const pick = Object.fromEntries(
      ['recordsSent', 'recordsAcked', 'recordsFailed', 'retries', 'producerIdResets', 'pendingRecords', 'lastError'].filter((k) => k in h).map((k) => [k, h[k]]),
    );
    report(`M ${m.rss} ${m.heapUsed} ${JSON.stringify(pick, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  };
  const sampler = setInterval(sample, 5_000);
  commands((command) => {
    if (command !== 'stop' || stopping) return;
    stopping = true;
    clearInterval(ticker);
    const flushed = producer.flush();
    const bound = new Promise<void>((resolve) => setTimeout(resolve, cfg.flushTimeoutMs).unref());
    void Promise.race([flushed, bound])
      .then(() => {
        sample();
        clearInterval(sampler);
        report(`END ${seq}`);
        return Promise.race([producer.close(), new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref())]);
      })
      .then(
        () => process.exit(0),
        (error: unknown) => die(error),
      );
  });
  report('STARTED');
  sample();
}

main();
