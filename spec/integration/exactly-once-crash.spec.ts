/**
 * Exactly-once under crashes: 20,000 inputs through consumer → transform → transactional() in a
 * child process (spec/support/eos-worker.ts) that is SIGKILLed at random points three times and
 * restarted; at the end a read_committed reader of the output topic sees every expected output
 * exactly once, and the group's committed offsets cover every input.
 *
 * The seed of the kill points is printed on failure (EOS_SEED=<n> replays it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { buildScript, type BuiltScript } from '../support/eos-build';
import { duplicates, readTopic } from '../support/eos-read';
import type { EosWorkerConfig } from '../support/eos-worker';
import { seedBacklog } from '../support/seed-backlog';
import { seededRandom as random } from '../support/random';

jest.setTimeout(240_000);

const PARTITIONS = 4;
const PER_PARTITION = 5_000;
const TOTAL = PARTITIONS * PER_PARTITION;
const VALUE_SIZE = 12;
const KILLS = 3;

let broker: BrokerProcess;
let admin: Client;
let worker: BuiltScript;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  worker = buildScript(join(__dirname, '..', 'support', 'eos-worker.ts'));
  broker = await startBroker();
  admin = await firstValueFrom(Client.connect$(broker.address));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await admin?.close();
  await broker?.stop();
  worker?.cleanup();
});


/** A run that has not exited by then is stuck, not slow (one run takes ~10 s here): end it and say so. */
const RUN_DEADLINE_MS = 50_000;

interface Run {
  /** True when the run was killed for passing RUN_DEADLINE_MS. */
  stuck: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the worker; with `killAt`, SIGKILL it `delayMs` after it reports ≥ killAt committed inputs. */
function runWorker(config: EosWorkerConfig, kill?: { killAt: number; delayMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [worker.entry, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let armed = kill !== undefined;
    let stuck = false;
    const deadline = setTimeout(() => {
      stuck = true;
      child.kill('SIGKILL');
    }, RUN_DEADLINE_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const counts = [...chunk.matchAll(/^COMMITTED (\d+)/gm)].map((m) => Number(m[1]));
      if (armed && counts.some((n) => n >= kill!.killAt)) {
        armed = false;
        // The delay picks a random instant inside whatever the worker is doing then (it is not a wait for anything).
        setTimeout(() => child.kill('SIGKILL'), kill!.delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      children.delete(child);
      resolve({ stuck, code, signal, stdout, stderr });
    });
  });
}

it(`${TOTAL} inputs, the transforming process SIGKILLed at random points ${KILLS} times: read_committed sees every output exactly once`, async () => {
  const seed = Number(process.env.EOS_SEED ?? Date.now() % 1_000_000);
  const rand = random(seed);
  const id = `${process.pid}-${seed}`;
  const input = `eos-crash-in-${id}`;
  const output = `eos-crash-out-${id}`;
  await seedBacklog(broker.address, input, PARTITIONS, TOTAL, VALUE_SIZE, {
    connections: 48,
    value: (p, i) => Buffer.from(`${p}:${i}`.padEnd(VALUE_SIZE, '.')),
  });
  await firstValueFrom(admin.createTopic$(output, 1));
  const config: EosWorkerConfig = {
    bootstrap: broker.address,
    input,
    inputPartitions: PARTITIONS,
    perPartition: PER_PARTITION,
    output,
    groupId: `eos-crash-group-${id}`,
    transactionalId: `eos-crash-${id}`,
    stateFile: join(broker.dataDir, `eos-worker-${id}.pid`),
    // A transaction is on the broker only while its commit runs (~1 s for 500 outputs): a commit
    // cut off by a kill stays visible until the reaper aborts it, at most this + its 5 s tick later.
    transactionTimeoutMs: 3_000,
  };

  // Kill points: after a random share of the inputs is committed, plus a random instant within the
  // next transaction (one takes ~1 s here: 500 outputs at the broker's ~600 records/s per connection).
  const killAt = Array.from({ length: KILLS }, () => Math.floor(TOTAL * (0.1 + 0.75 * rand()))).sort((a, b) => a - b);
  const runs: Run[] = [];
  for (let k = 0; k < KILLS; k++) runs.push(await runWorker(config, { killAt: killAt[k]!, delayMs: Math.floor(rand() * 1_000) }));
  const lastKillAt = Date.now();
  const last = await runWorker(config);
  const context = `seed ${seed}, kill points ${killAt.join(', ')}; runs: ${[...runs, last]
    .map((r) => `[${r.stuck ? `stuck after ${RUN_DEADLINE_MS} ms` : (r.signal ?? r.code)}] ${r.stderr.trim()} ${r.stdout.trim().split('\n').slice(-2).join(' | ')}`)
    .join(' ;; ')}`;

  expect({ context, stuck: [...runs, last].some((r) => r.stuck) }).toEqual({ context, stuck: false });
  expect({ context, signals: runs.map((r) => r.signal) }).toEqual({ context, signals: Array(KILLS).fill('SIGKILL') });
  expect({ context, code: last.code, done: /^DONE$/m.test(last.stdout) }).toEqual({ context, code: 0, done: true });

  const expected = new Set<string>();
  for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < PER_PARTITION; i++) expected.add(`out(${p}:${i})`);
  // rivvend has no last stable offset: the records of a commit the last kill cut off are visible
  // until the broker's reaper aborts that transaction (a broker timer: no event to await).
  const reaped = lastKillAt + config.transactionTimeoutMs + 6_000 - Date.now();
  if (reaped > 0) await new Promise((resolve) => setTimeout(resolve, reaped));
  const seen = (await readTopic(admin, output, 1, 'read_committed')).map((r) => r.value);
  const seenSet = new Set(seen);
  const missing = [...expected].filter((v) => !seenSet.has(v));
  const unexpected = [...seenSet].filter((v) => !expected.has(v));
  expect({ context, duplicates: [...duplicates(seen)].slice(0, 10), missing: missing.slice(0, 10), unexpected: unexpected.slice(0, 10), count: seen.length }).toEqual({
    context,
    duplicates: [],
    missing: [],
    unexpected: [],
    count: TOTAL,
  });
  for (let p = 0; p < PARTITIONS; p++) expect(await firstValueFrom(admin.getOffset$(config.groupId, input, p))).toBe(BigInt(PER_PARTITION));

  if (process.env.EOS_VERBOSE) {
    const uncommitted = await readTopic(admin, output, 1, 'read_uncommitted');
    process.stderr.write(`exactly-once crash test: ${context}\nread_uncommitted ${uncommitted.length}, read_committed ${seen.length}\n`);
  }
});
