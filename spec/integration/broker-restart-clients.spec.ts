/**
 * PipelinedClient and ResilientClient across a real broker crash (DESIGN.md §5, issue 13 §2): each
 * keeps publishing while its broker is SIGKILLed and started again 1.5 s later on the same port and
 * data dir (spec/support/broker-restart.ts). The caller does nothing but keep sending: once the
 * broker is back, every new request succeeds. Printed: how long until the first success, and what
 * happened to the requests sent meanwhile.
 *
 * What may fail, and how: a publish in flight at the crash may have reached the broker, so neither
 * client resends it (PipelinedClient never retries; ResilientClient retries a `Publish` only when it
 * certainly never left) — it fails with a retriable RivvenError, counted and printed.
 */
import { type Subscription, firstValueFrom, interval } from 'rxjs';
import { Client } from '../../src/client/client';
import { PipelinedClient } from '../../src/client/pipelined-client';
import { ResilientClient } from '../../src/client/resilient-client';
import type { BrokerOperations } from '../../src/client/broker-operations';
import { RivvenError } from '../../src/errors';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { crashAndRestart, type Restarted } from '../support/broker-restart';
import { unique } from '../support/names';

jest.setTimeout(40_000);

const DOWN_MS = 1_500;
/** One publish every this many ms, whatever became of the earlier ones. */
const EVERY_MS = 20;
/** After the first success following the restart, keep publishing this long and require every publish to succeed. */
const AFTER_MS = 1_000;
/** Bound on the time from READY to the first success (generous: 2 cores, parallel workers). */
const RESUME_BOUND_MS = 8_000;

let broker: BrokerProcess;
const topic = unique('restart-clients');

beforeAll(async () => {
  broker = await startBroker();
  const admin = await firstValueFrom(Client.connect$(broker.address));
  try {
    await firstValueFrom(admin.createTopic$(topic, 1));
  } finally {
    await admin.close();
  }
});

afterAll(async () => {
  await broker?.stop();
});

interface Outcome {
  issuedAt: number;
  settledAt?: number;
  error?: unknown;
}

/** Publishes every EVERY_MS ms and records each one's outcome; `successAfter(t)` resolves at the first success issued or settled after t. */
class Traffic {
  readonly outcomes: Outcome[] = [];
  private readonly subscription: Subscription;
  private waiters: { after: number; resolve: (o: Outcome) => void }[] = [];

  constructor(client: BrokerOperations, run: string) {
    this.subscription = interval(EVERY_MS).subscribe((i) => {
      const outcome: Outcome = { issuedAt: Date.now() };
      this.outcomes.push(outcome);
      // Not added to this.subscription: stopping the traffic lets the last publishes settle.
      client.publish$(topic, { value: `${run}:${i}`, partition: 0 }).subscribe({
        next: () => {
          const settledAt = (outcome.settledAt = Date.now());
          this.waiters = this.waiters.filter((w) => (settledAt >= w.after ? (w.resolve(outcome), false) : true));
        },
        error: (error: unknown) => {
          outcome.settledAt = Date.now();
          outcome.error = error;
        },
      });
    });
  }

  /** The first publish that succeeds at or after `after` (epoch ms). */
  successAfter(after: number, boundMs: number): Promise<Outcome> {
    const done = this.outcomes.find((o) => o.settledAt !== undefined && o.error === undefined && o.settledAt >= after);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const failures = this.outcomes.filter((o) => o.error !== undefined && o.settledAt! >= after);
        reject(new Error(`no publish succeeded within ${boundMs} ms of the broker being back; ${failures.length} failed since, the last: ${String(failures.at(-1)?.error)}`));
      }, boundMs);
      this.waiters.push({
        after,
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
      });
    });
  }

  /** Stop issuing; resolves when every publish issued has settled. */
  async stop(): Promise<void> {
    this.subscription.unsubscribe();
    while (this.outcomes.some((o) => o.settledAt === undefined)) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Run traffic through a crash and a restart; returns the figures the tests assert on. */
async function throughCrash(client: BrokerOperations, run: string) {
  const traffic = new Traffic(client, run);
  let restarted: Restarted;
  let first: Outcome;
  let steadyFrom: number;
  try {
    await traffic.successAfter(0, 10_000); // traffic is flowing
    restarted = await crashAndRestart(broker, DOWN_MS);
    broker = restarted.broker;
    first = await traffic.successAfter(restarted.readyAt, RESUME_BOUND_MS);
    steadyFrom = Date.now();
    await new Promise<void>((resolve) => setTimeout(resolve, AFTER_MS)); // the steady-state window under test
  } finally {
    await traffic.stop();
  }
  const afterFirst = traffic.outcomes.filter((o) => o.issuedAt >= steadyFrom);
  const failed = traffic.outcomes.filter((o) => o.error !== undefined);
  const figures = {
    published: traffic.outcomes.length,
    succeeded: traffic.outcomes.length - failed.length,
    failed: failed.length,
    failedBy: Object.fromEntries(
      [...new Set(failed.map((o) => (o.error as Error).constructor.name))].map((name) => [name, failed.filter((o) => (o.error as Error).constructor.name === name).length]),
    ),
    restartMs: restarted.readyAt - restarted.killedAt,
    firstSuccessAfterReadyMs: first.settledAt! - restarted.readyAt,
    firstSuccessAfterKillMs: first.settledAt! - restarted.killedAt,
    afterFirstSuccess: afterFirst.length,
    afterFirstSuccessFailed: afterFirst.filter((o) => o.error !== undefined).map((o) => String(o.error)),
  };
  return { figures, failed, outcomes: traffic.outcomes, restarted };
}

describe('clients across a broker SIGKILL + restart (same port and data dir, 1.5 s down)', () => {
  it('PipelinedClient reconnects by itself: after the restart every new publish succeeds', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$(broker.address) /* defaults: 30 s request timeout, backoff 100 ms → 5 s */);
    try {
      const { figures, failed, outcomes, restarted } = await throughCrash(client, 'pipelined');
      const stats = client.health();
      console.log(`PipelinedClient through a broker crash: ${JSON.stringify({ ...figures, reconnects: stats.reconnects, reconnectFailures: stats.reconnectFailures, connectionsLost: stats.connectionsLost })}`);
      expect(figures.firstSuccessAfterReadyMs).toBeLessThan(RESUME_BOUND_MS);
      expect(figures.afterFirstSuccess).toBeGreaterThanOrEqual(10);
      expect(figures.afterFirstSuccessFailed).toEqual([]);
      // Only publishes in flight at the crash may fail (retriable: they may have been stored); the
      // ones issued while the broker was down waited for the new connection and were sent on it.
      for (const o of failed) expect(o.error).toMatchObject({ retriable: true });
      const duringOutage = outcomes.filter((o) => o.issuedAt >= restarted.killedAt + 200 && o.issuedAt <= restarted.readyAt);
      expect(duringOutage.length).toBeGreaterThanOrEqual(20);
      expect(duringOutage.filter((o) => o.error !== undefined).map((o) => String(o.error))).toEqual([]);
      expect(stats).toMatchObject({ state: 'ready', connectionsLost: 1, reconnects: 1, awaitingConnection: 0 });
    } finally {
      await client.close();
    }
  });

  it('ResilientClient carries on by itself: after the restart every new publish succeeds', async () => {
    // Default settings. The failed connects during the 1.5 s outage open the breaker; its first
    // recovery delay is circuitBreakerInitialRecoveryTimeoutMs (1 s, doubling per failed probe), so
    // it probes again soon after the broker is back (before: a flat 30 s, i.e. ~29 s of
    // AllServersUnavailableError after the restart).
    const client = new ResilientClient({ bootstrapServers: [broker.address], requestTimeoutMs: 10_000 });
    try {
      const { figures, failed } = await throughCrash(client, 'resilient');
      console.log(`ResilientClient through a broker crash: ${JSON.stringify(figures)}`);
      expect(figures.firstSuccessAfterReadyMs).toBeLessThan(RESUME_BOUND_MS);
      expect(figures.afterFirstSuccess).toBeGreaterThanOrEqual(10);
      expect(figures.afterFirstSuccessFailed).toEqual([]);
      for (const o of failed) expect(o.error).toBeInstanceOf(RivvenError);
    } finally {
      await client.close();
    }
  });
});
