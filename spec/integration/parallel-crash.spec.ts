/**
 * A member processing with processConcurrently() is SIGKILLed mid-run and another is started in its
 * place (spec/support/parallel-worker.ts, a process each): every record is processed at least
 * once; nothing the group had committed is processed again; and what is processed again is
 * bounded — by the records the dead member acknowledged after its last commit, plus at most
 * maxDeferredRecords records it had started past its last acknowledgement (the deferred window).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { buildScript, type BuiltScript } from '../support/eos-build';
import { unique } from '../support/names';
import type { ParallelWorkerConfig } from '../support/parallel-worker';
import { testBroker } from '../support/test-broker';

jest.setTimeout(120_000);

const TOTAL = 3_000;
const KEYS = 100;
const MAX_DEFERRED = 40;

let worker: BuiltScript;
let client: Client;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  worker = buildScript(join(__dirname, '..', 'support', 'parallel-worker.ts'));
  client = await firstValueFrom(Client.connect$({ bootstrapServers: [testBroker().address], clientId: 'parallel-crash-spec' }));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await client?.close();
  worker?.cleanup();
});

async function until(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class Worker {
  readonly child: ChildProcess;
  readonly processed: bigint[] = [];
  lastAck = -1n;
  assigned = false;
  closed = false;
  stderr = '';

  constructor(config: ParallelWorkerConfig) {
    this.child = spawn(process.execPath, [worker.entry, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this.child);
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const text of lines) {
        const [kind, , offset] = text.split(' ', 3);
        if (kind === 'P') this.processed.push(BigInt(offset!));
        else if (kind === 'A') this.lastAck = BigInt(offset!);
        else if (kind === 'ASSIGNED' && text.length > 'ASSIGNED '.length) this.assigned = true;
        else if (kind === 'CLOSED') this.closed = true;
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.child.on('exit', () => children.delete(this.child));
  }
}

it('a member SIGKILLed mid-run, another started: every record processed, re-processing bounded by the deferred window', async () => {
  const topic = unique('par-crash');
  await firstValueFrom(client.createTopic$(topic, 1));
  const records = Array.from({ length: TOTAL }, (_, i) => ({ key: `k${i % KEYS}`, value: `${i}` }));
  for (let i = 0; i < TOTAL; i += 250) await firstValueFrom(client.publishBatch$(topic, records.slice(i, i + 250), { partition: 0 }));
  const groupId = unique('g');
  const config: ParallelWorkerConfig = {
    bootstrap: testBroker().address,
    topic,
    groupId,
    concurrency: 50,
    maxDeferredRecords: MAX_DEFERRED,
    consumer: { heartbeatIntervalMs: 300, sessionTimeoutMs: 3_000, autoCommitIntervalMs: 50, maxPollRecords: 200 },
  };

  const first = new Worker(config);
  await until(() => first.processed.length >= 1_000, 60_000, () => `the first worker's records (${first.processed.length}) ${first.stderr}`);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  const committedAtKill = (await firstValueFrom(client.getOffset$(groupId, topic, 0))) ?? 0n;

  const second = new Worker(config);
  await until(() => new Set([...first.processed, ...second.processed]).size === TOTAL, 60_000, () => `every record (${second.processed.length} by the second) ${second.stderr}`);
  second.child.stdin!.write('close\n');
  await until(() => second.closed, 20_000, () => 'the second worker to close');

  const byFirst = new Set(first.processed);
  const again = second.processed.filter((o) => byFirst.has(o));
  const pastLastAck = first.processed.filter((o) => o > first.lastAck).length;
  const ackedNotCommitted = Number(first.lastAck + 1n - committedAtKill);
  console.log(
    `parallel crash: first worker processed ${first.processed.length}, acknowledged up to ${first.lastAck}, group committed ${committedAtKill}; ` +
      `${pastLastAck} processed past its last acknowledgement (window ${MAX_DEFERRED}); processed again ${again.length} (≤ ${ackedNotCommitted} acknowledged-not-committed + ${MAX_DEFERRED})`,
  );
  // At least once: every offset.
  expect(new Set([...first.processed, ...second.processed]).size).toBe(TOTAL);
  // Nothing the group had committed is processed again.
  for (const o of again) expect(o >= committedAtKill).toBe(true);
  // The commit never passed a record the first worker had not finished.
  for (let o = 0n; o < committedAtKill; o++) expect(byFirst.has(o)).toBe(true);
  // The deferred window: at most MAX_DEFERRED records started past the committable offset.
  expect(pastLastAck).toBeLessThanOrEqual(MAX_DEFERRED);
  expect(again.length).toBeLessThanOrEqual(ackedNotCommitted + MAX_DEFERRED);
  // The second worker starts at the committed offset, not later (nothing skipped) and finishes the log.
  expect(await firstValueFrom(client.getOffset$(groupId, topic, 0))).toBe(BigInt(TOTAL));
});
