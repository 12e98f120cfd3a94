/**
 * A commit survives a clean broker restart (issue 20 §1.7): while the group coordinator cannot be
 * reached, OffsetStore.commit$ — what commitOffsets(), commit$() and auto-commit use — retries
 * with the retry policy's backoff for at least COMMIT_RETRY_MIN_MS and retry.maxAttempts attempts;
 * only then does it fail, with an error and a log line that say what happened. Virtual time.
 */
import { VirtualTimeScheduler, firstValueFrom, of, throwError } from 'rxjs';
import type { Client } from '../../src/client/client';
import { Retrier } from '../../src/client/retrier';
import { driveVirtualTime as driveAny } from '../support/virtual-time';
import { COMMIT_RETRY_MIN_MS, OffsetStore } from '../../src/consumer/offset-store';
import { PartitionState } from '../../src/consumer/partition-state';
import { AllServersUnavailableError, ConnectionError, ServerError } from '../../src/errors';
import { createLog, type LogFields } from '../../src/observability/log';

/** Commits are retried for up to minutes of virtual time: coarse steps. */
const drive = <T>(scheduler: VirtualTimeScheduler, work: Promise<T>): Promise<T> => driveAny(scheduler, work, { maxMs: 600_000, stepMs: 50 });

const POLICY = { initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 0.25 };

/** A coordinator that is down until `upAt` (virtual ms), or for good; `refuse` makes the broker answer the commit with an error. */
function setup(options: { upAt?: number; refuse?: string; maxAttempts?: number; closed?: () => boolean }) {
  const scheduler = new VirtualTimeScheduler();
  const lines: Array<{ level: string; message: string; fields: LogFields }> = [];
  const capture = (level: string) => (fields: LogFields, message: string) => lines.push({ level, message, fields });
  const log = createLog('consumer', { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') }, 'info');
  const commits: bigint[] = [];
  let attempts = 0;
  const client = {
    commitOffset$: (_group: string, _topic: string, _partition: number, offset: bigint) =>
      options.refuse === undefined ? (commits.push(offset), of(undefined)) : throwError(() => new ServerError(options.refuse!)),
  } as unknown as Client;
  const store = new OffsetStore({
    groupId: 'g',
    autoOffsetReset: 'earliest',
    scheduler,
    coordinator: async () => {
      attempts++;
      if (options.upAt === undefined || scheduler.now() < options.upAt) {
        throw new AllServersUnavailableError('no server of bootstrapServers answered (127.0.0.1:9092: connection to 127.0.0.1:9092 failed: ECONNREFUSED)');
      }
      return client;
    },
    dropCoordinator: () => undefined,
    retrier: new Retrier({ ...POLICY, maxAttempts: options.maxAttempts ?? 10 }, scheduler, () => 0.5),
    onError: () => undefined,
    closed: options.closed ?? (() => false),
    log,
  });
  const state = new PartitionState('t', 0, 0n, undefined);
  state.acked = 42n;
  return { scheduler, store, state, lines, commits, attempts: () => attempts };
}

describe('OffsetStore.commit$ while the broker restarts', () => {
  it('a coordinator down for 15 s (a clean restart): the commit is retried and lands, the pipeline goes on', async () => {
    const t = setup({ upAt: 15_000 });
    const result = await drive(t.scheduler, firstValueFrom(t.store.commit$([t.state])));
    expect(result).toEqual({ offsets: [{ topic: 't', partition: 0, offset: 42n }] });
    expect(t.commits).toEqual([42n]);
    expect(t.state.committed).toBe(42n);
    expect(t.attempts()).toBeGreaterThan(2);
    // One line when the retries start, none saying it failed.
    const warnings = t.lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/could not reach the group coordinator.*retrying/);
  });

  it('a coordinator that stays down: the commit gives up after retry.maxAttempts attempts and COMMIT_RETRY_MIN_MS, saying so', async () => {
    const t = setup({ maxAttempts: 3 });
    const error = await drive(t.scheduler, firstValueFrom(t.store.commit$([t.state])).catch((e: unknown) => e));
    expect(t.scheduler.now()).toBeGreaterThanOrEqual(COMMIT_RETRY_MIN_MS);
    expect(t.attempts()).toBeGreaterThan(3);
    expect(error).toBeInstanceOf(AllServersUnavailableError);
    expect((error as Error).message).toMatch(/^commit of t\/0@42 for group 'g' gave up after \d+ attempts over \d+ ms without reaching the group coordinator: no server of bootstrapServers answered/);
    expect((error as Error).cause).toBeInstanceOf(AllServersUnavailableError);
    expect(t.state.committed).toBeUndefined();
    const failed = t.lines.find((l) => l.message.startsWith('commit failed'));
    // The log line says what the caller gets, not "the next commit tries again".
    expect(failed?.message).toMatch(/commit\$\(\) errors with this error.*commitOffsets\(\) pipeline ends with it/);
    expect(failed?.fields.attempt).toBe(t.attempts());
  });

  it('with a long retry policy the attempts bound it, not the minimum time', async () => {
    const t = setup({ maxAttempts: 12 });
    await drive(t.scheduler, firstValueFrom(t.store.commit$([t.state])).catch((e: unknown) => e));
    expect(t.attempts()).toBe(12);
    expect(t.scheduler.now()).toBeGreaterThan(COMMIT_RETRY_MIN_MS);
  });

  it('the broker refusing the commit is not retried, and its error is passed on as it is', async () => {
    const t = setup({ upAt: 0, refuse: 'OFFSET_OUT_OF_RANGE: offset 42 exceeds latest offset 10 for partition 0' });
    const error = await drive(t.scheduler, firstValueFrom(t.store.commit$([t.state])).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(ServerError);
    expect(t.attempts()).toBe(1);
  });

  it('a consumer that is closing does not retry', async () => {
    const t = setup({ closed: () => true });
    const error = await drive(t.scheduler, firstValueFrom(t.store.commit$([t.state])).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(AllServersUnavailableError);
    expect(error).not.toBeInstanceOf(ConnectionError);
    expect(t.attempts()).toBe(1);
  });
});
