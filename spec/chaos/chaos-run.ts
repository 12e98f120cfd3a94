/**
 * The chaos run (`npm run chaos -- --minutes N`; issue §3 "Chaos", franz-go's KGO_TEST_CHAOS and
 * Redpanda's chaos consistency checks): against the real rivvend 0.0.22, behind a ChaosProxy that
 * ends every client connection after a random 1–4 s,
 *
 *   - the broker is restarted every minute (SIGTERM, same port and data dir);
 *   - an idempotent producer (own process) writes ~300 records/s, alternating two topics that share
 *     partition numbers;
 *   - a consumer group of ≥ 3 worker processes processes the first topic; every ~45 s a member is
 *     SIGKILLed (leader and follower in turn) and a new one joins;
 *   - an exactly-once stage (transactional() in ≥ 2 processes, each with its own input partitions and
 *     output partition) copies the second topic; one of them is SIGKILLed now and then and restarted
 *     with the same transactional id.
 *
 * Then the producer stops, the pipelines drain (bounded, the connection kills still on), every
 * process is closed, and everything is read back directly from the broker and judged
 * (chaos-judge.ts); the exit code is 1 when a judgement fails. Everything it starts (broker, workers) is
 * stopped by pid at the end, on SIGINT/SIGTERM, and at a hard deadline; workers and the broker
 * also exit by themselves when this process dies (their stdin is their lifeline).
 *
 * rivvend keeps its log over a SIGTERM only when its clients disconnect within its shutdown drain
 * (DESIGN §8). Each restart is classified clean or unclean from the broker's own log and its WAL
 * directory; what an unclean restart can explain is counted apart (issue §2 (d)), never hidden.
 *
 * Files: chaos-producer.ts, chaos-group-worker.ts, chaos-eos-worker.ts (the worker processes),
 * chaos-io.ts (their line protocol), chaos-check.ts and chaos-judge.ts (the verdict); the proxy is
 * spec/support/fault-proxy.ts's ChaosProxy. Run through scripts/chaos.mjs, which transpiles them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { clientLogReader, readLog } from '../support/consistency.js';
import { ChaosProxy } from '../support/fault-proxy.js';
import { ProgressGaps, type ProcessedRecord, type RestartRecord } from './chaos-check.js';
import { chaosTopicOf } from './chaos-io.js';
import {
  DRAIN_LIMIT_MS,
  judgeRun,
  PARTITIONS,
  seconds,
  SESSION_TIMEOUT_MS,
  TOPIC_A,
  TOPIC_B,
  TOPIC_OUT,
  VALUE_SIZE,
  WRITER,
  KEYS,
  type Died,
  type Send,
} from './chaos-judge.js';
import type { ChaosEosWorkerConfig } from './chaos-eos-worker.js';
import type { ChaosGroupWorkerConfig } from './chaos-group-worker.js';
import type { ChaosProducerConfig } from './chaos-producer.js';
import { seededRandom as random } from '../support/random.js';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: npm run chaos -- [--minutes N] [--seed S] [--rate R] [--group-workers N] [--eos-workers N]
       [--restart-every S] [--member-kill-every S] [--eos-kill-every S] [--lifetime MIN-MAX] [--episodes] [--keep]`;

interface Options {
  minutes: number;
  seed: number;
  rate: number;
  groupWorkers: number;
  eosWorkers: number;
  restartEveryS: number;
  memberKillEveryS: number;
  eosKillEveryS: number;
  lifetime: { minMs: number; maxMs: number };
  episodes: boolean;
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    minutes: 2,
    seed: Date.now() % 1_000_000,
    rate: 300,
    groupWorkers: 3,
    eosWorkers: 2,
    restartEveryS: 60,
    memberKillEveryS: 45,
    eosKillEveryS: 60,
    lifetime: { minMs: 1_000, maxMs: 4_000 },
    episodes: false,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!(v > 0)) throw new Error(`${name} needs a positive number\n${USAGE}`);
      return v;
    };
    switch (name) {
      case '--minutes':
        o.minutes = value();
        break;
      case '--seed':
        o.seed = value();
        break;
      case '--rate':
        o.rate = value();
        break;
      case '--group-workers':
        o.groupWorkers = Math.max(3, Math.floor(value()));
        break;
      case '--eos-workers':
        o.eosWorkers = Math.max(2, Math.floor(value()));
        break;
      case '--restart-every':
        o.restartEveryS = value();
        break;
      case '--member-kill-every':
        o.memberKillEveryS = value();
        break;
      case '--eos-kill-every':
        o.eosKillEveryS = value();
        break;
      case '--lifetime': {
        const m = /^(\d+)-(\d+)$/.exec(argv[++i] ?? '');
        if (!m || Number(m[1]) > Number(m[2])) throw new Error(`--lifetime needs MIN-MAX in ms, e.g. 1000-4000\n${USAGE}`);
        o.lifetime = { minMs: Number(m[1]), maxMs: Number(m[2]) };
        break;
      }
      case '--episodes':
        o.episodes = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${name}\n${USAGE}`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Fixed parameters of the run
// ---------------------------------------------------------------------------------------------

const GROUP = 'chaos-group';
const EOS_GROUP = 'chaos-eos';
const EOS_TRANSACTION_TIMEOUT_MS = 10_000;
const CLOSE_LIMIT_MS = 20_000;

const here = dirname(fileURLToPath(import.meta.url));


const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

function say(text: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

// ---------------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------------

type WorkerKind = 'producer' | 'group' | 'eos';

interface Worker {
  kind: WorkerKind;
  name: string;
  child: ChildProcess;
  pid: number;
  /** Set before we SIGKILL it or ask it to close: its end is ours, not its own. */
  endedByUs: 'kill' | 'close' | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
  isLeader: boolean;
  lastFailure: string | undefined;
  /** Extra state (EOS slot index). */
  slot: number;
}


// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

class ChaosRun {
  private broker!: BrokerProcess;
  private proxy!: ChaosProxy;
  private readonly workers = new Set<Worker>();
  private readonly rand: () => number;
  private readonly runDir: string;
  private stopping = false;
  /** Set by an emergency stop: a restart under way must not start a new broker. */
  private aborted = false;
  private closingWorkers = false;
  private t0 = 0;
  private chaosEnd = 0;
  private brokerEpoch = 0;
  private restarting: Promise<void> | undefined;
  private readonly down: Array<{ from: number; to: number }> = [];
  private readonly restarts: RestartRecord[] = [];
  /**
   * Per restart and output partition, the log end read just before the SIGTERM and just after the
   * new process was READY (before any client could write): what lies between was written during
   * rivvend's shutdown drain.
   */
  private readonly drainWindows: Array<{ partition: number; from: bigint; to: bigint }> = [];
  /** Output positions (`p@offset`) read_committed hid right before a restart. */
  private readonly hiddenBeforeRestart = new Set<string>();
  /** Output positions visible right before a restart that no transaction had reported committed. */
  private readonly unreportedBeforeRestart = new Set<string>();
  /** Per output partition, where the next pre-restart scan starts. */
  private readonly scannedFrom = new Map<number, bigint>();
  private lastEosKillAt = 0;
  private progress!: ProgressGaps;

  // What the workers reported
  private readonly ledger: Send[] = [];
  private producerSent = -1;
  private readonly rss: Array<{ at: number; rssMB: number; heapMB: number }> = [];
  private lastProducerHealth = '';
  private readonly processed: ProcessedRecord[] = [];
  private readonly generations = new Set<string>();
  private groupBackwards = 0;
  private groupTruncations = 0;
  private readonly eosReported: Array<[number, bigint, number]> = [];
  private eosTransactions = 0;
  private eosRetries = 0;
  private readonly eosRetryKinds = new Map<string, number>();
  private readonly died: Died[] = [];
  private groupKills = 0;
  private eosKills = 0;
  private memberSerial = 0;
  private notClosed: string[] = [];
  private drainedAfterMs: number | undefined;
  private drainEnd = 0;
  /** Per `topic/partition`, the highest offset acknowledged to the producer … */
  private readonly lastAcked = new Map<string, bigint>();
  /** … and the highest the group (chaos-a) or the exactly-once stage (chaos-b) got done. */
  private readonly caughtUpTo = new Map<string, bigint>();

  constructor(private readonly o: Options) {
    this.rand = random(o.seed);
    this.runDir = mkdtempSync(join(tmpdir(), 'rivven-rx-chaos-'));
  }

  private get proxyAddress(): string {
    return this.proxy.address;
  }

  // ------------------------------------------------------------------ processes

  private spawnWorker(kind: WorkerKind, name: string, script: string, config: unknown, slot = 0): Worker {
    const errFd = openSync(join(this.runDir, `${name}.stderr.log`), 'a');
    const child = spawn(process.execPath, [join(here, script), JSON.stringify(config)], { stdio: ['pipe', 'pipe', errFd] });
    closeSync(errFd);
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    const worker: Worker = {
      kind,
      name,
      child,
      pid: child.pid,
      endedByUs: undefined,
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      done: false,
      isLeader: false,
      lastFailure: undefined,
      slot,
    };
    child.stdin?.on('error', () => undefined);
    this.workers.add(worker);
    // Every report but the high-volume ones (A, P, C) goes to <name>.events.log, for diagnosis.
    const events = join(this.runDir, `${name}.events.log`);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!/^[APC] /.test(line)) appendFileSync(events, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
      this.onLine(worker, line);
    });
    void worker.exited.then(({ code, signal }) => this.onExit(worker, code, signal));
    return worker;
  }

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    worker.done = true;
    this.workers.delete(worker);
    const ours = worker.endedByUs === 'kill' || (worker.endedByUs === 'close' && code === 0);
    if (ours) return;
    this.died.push({ name: worker.name, at: Date.now(), code, signal, failure: worker.lastFailure });
    say(`${worker.name} (pid ${worker.pid}) died on its own: ${signal ?? `exit ${code}`}${worker.lastFailure ? ` — ${worker.lastFailure}` : ''}`);
    if (this.stopping || this.closingWorkers) return;
    // Keep the run going as a supervisor would: replace it (the death is counted).
    if (worker.kind === 'group') this.startGroupWorker();
    else if (worker.kind === 'eos') this.startEosWorker(worker.slot);
  }

  private send(worker: Worker, command: string): void {
    if (!worker.done) worker.child.stdin?.write(`${command}\n`);
  }

  private async kill(worker: Worker): Promise<void> {
    if (worker.done) return;
    worker.endedByUs = 'kill';
    worker.child.kill('SIGKILL');
    await worker.exited;
  }

  // ------------------------------------------------------------------ reports

  private onLine(worker: Worker, line: string): void {
    const now = Date.now();
    const space = line.indexOf(' ');
    const tag = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1);
    switch (tag) {
      case 'A': {
        const [seq, partition, offset] = rest.split(' ');
        const entry = this.entry(Number(seq));
        entry.ack = { partition: Number(partition), offset: BigInt(offset!), at: now };
        const tp = `${chaosTopicOf([TOPIC_A, TOPIC_B], Number(seq))}/${partition}`;
        if (entry.ack.offset >= (this.lastAcked.get(tp) ?? -1n)) this.lastAcked.set(tp, entry.ack.offset);
        this.progress.mark('producer acks', now);
        return;
      }
      case 'F': {
        const at = rest.indexOf(' ');
        this.entry(Number(rest.slice(0, at))).failed = { error: rest.slice(at + 1), at: now };
        return;
      }
      case 'M': {
        const [rss, heap, ...health] = rest.split(' ');
        this.rss.push({ at: now, rssMB: Number(rss) / 1048576, heapMB: Number(heap) / 1048576 });
        this.lastProducerHealth = health.join(' ');
        return;
      }
      case 'END':
        this.producerSent = Number(rest);
        return;
      case 'P': {
        const first = rest.indexOf(' ');
        const second = rest.indexOf(' ', first + 1);
        const partition = Number(rest.slice(0, first));
        const offset = BigInt(rest.slice(first + 1, second));
        this.processed.push({ partition, offset, value: rest.slice(second + 1) });
        if (offset > (this.caughtUpTo.get(`${TOPIC_A}/${partition}`) ?? -1n)) this.caughtUpTo.set(`${TOPIC_A}/${partition}`, offset);
        this.progress.mark(`group ${TOPIC_A}/${partition}`, now);
        return;
      }
      case 'B':
        this.groupBackwards++;
        say(`${worker.name}: offset not above the previous one: ${rest}`);
        return;
      case 'X':
        this.groupTruncations++;
        say(`${worker.name}: truncation reported: ${rest}`);
        return;
      case 'ASSIGNED': {
        const a = JSON.parse(rest) as { generationId: number; isLeader: boolean; partitions: number[] };
        worker.isLeader = a.isLeader;
        if (!this.closingWorkers) this.generations.add(`${this.brokerEpoch}:${a.generationId}`);
        return;
      }
      case 'T': {
        const t = JSON.parse(rest) as { r: Array<[number, string]>; o: Array<[number, string]> };
        this.eosTransactions++;
        for (const [p, o] of t.r) this.eosReported.push([p, BigInt(o), now]);
        for (const [p, o] of t.o) {
          this.progress.mark(`eos ${TOPIC_B}/${p}`, now);
          // Committed offsets are the next offset to read: the last input done is one below.
          const done = BigInt(o) - 1n;
          if (done > (this.caughtUpTo.get(`${TOPIC_B}/${p}`) ?? -1n)) this.caughtUpTo.set(`${TOPIC_B}/${p}`, done);
        }
        return;
      }
      case 'RETRY': {
        this.eosRetries++;
        const kind = rest.replace(/:.*$/, '');
        this.eosRetryKinds.set(kind, (this.eosRetryKinds.get(kind) ?? 0) + 1);
        return;
      }
      case 'FAILED':
        worker.lastFailure = rest;
        return;
      default:
        return; // STARTED, REVOKED, C, CLOSED: informational
    }
  }

  private entry(seq: number): Send {
    let e = this.ledger[seq];
    if (e === undefined) {
      e = { seq };
      this.ledger[seq] = e;
    }
    return e;
  }

  // ------------------------------------------------------------------ workers

  private startProducer(): Worker {
    const config: ChaosProducerConfig = {
      bootstrap: this.proxyAddress,
      topics: [TOPIC_A, TOPIC_B],
      ratePerSec: this.o.rate,
      keys: KEYS,
      writer: WRITER,
      valueSize: VALUE_SIZE,
      flushTimeoutMs: 60_000,
    };
    return this.spawnWorker('producer', 'producer', 'chaos-producer.js', config);
  }

  private startGroupWorker(): Worker {
    const config: ChaosGroupWorkerConfig = {
      bootstrap: this.proxyAddress,
      topic: TOPIC_A,
      groupId: GROUP,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      commitBatch: 200,
      commitIntervalMs: 1_000,
    };
    return this.spawnWorker('group', `member-${++this.memberSerial}`, 'chaos-group-worker.js', config);
  }

  private eosSerial = 0;
  private startEosWorker(slot: number): Worker {
    const partitions = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % this.o.eosWorkers === slot);
    const config: ChaosEosWorkerConfig = {
      bootstrap: this.proxyAddress,
      input: TOPIC_B,
      inputPartitions: partitions,
      output: TOPIC_OUT,
      outputPartition: slot,
      groupId: EOS_GROUP,
      transactionalId: `chaos-eos-${slot}`,
      transactionTimeoutMs: EOS_TRANSACTION_TIMEOUT_MS,
      giveUpAfterMs: 60_000,
    };
    return this.spawnWorker('eos', `eos-${slot}.${++this.eosSerial}`, 'chaos-eos-worker.js', config, slot);
  }

  private live(kind: WorkerKind): Worker[] {
    return [...this.workers].filter((w) => w.kind === kind && !w.done && w.endedByUs === undefined);
  }

  // ------------------------------------------------------------------ broker

  private async admin<T>(use: (client: Client) => Promise<T>): Promise<T> {
    const client = await firstValueFrom(Client.connect$(this.broker.address, { requestTimeoutMs: 10_000, connectionTimeoutMs: 5_000 }));
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  }

  private async restartBroker(): Promise<void> {
    // What the exactly-once output holds now: a visible copy that no transaction reported
    // committed is explained by this restart if read_committed hid it now (rivvend's abort index is
    // in memory: (c)) or if it was written while the broker drained (a commit the restart cut off: (b)).
    let endsBefore = new Map<number, bigint>();
    try {
      endsBefore = await this.admin((client) => this.scanOutput(client));
    } catch (error) {
      say(`could not scan the output before the restart: ${String(error)}`);
    }
    const logBefore = this.brokerLog().length;
    const sigtermAt = Date.now();
    const window = { from: sigtermAt, to: Number.POSITIVE_INFINITY };
    this.down.push(window);
    say(`broker restart ${this.restarts.length + 1}: SIGTERM`);
    await this.broker.stop({ keepData: true, graceMs: 40_000 });
    if (this.aborted) throw new Error('the run was stopped during a broker restart');
    const exitedAt = Date.now();
    const tail = this.brokerLog().slice(logBefore);
    const walBytes = this.walBytes();
    const drainTimeout = /Connection drain timeout|did not stop within|rivvend shutdown:|second SIG/.test(tail);
    const complete = /Server shutdown complete/.test(tail);
    const clean = !drainTimeout && complete && walBytes === 0;
    const detail = `${clean ? 'clean' : 'UNCLEAN'}: stopped in ${seconds(exitedAt - sigtermAt)}; ${drainTimeout ? 'drain timed out' : 'drained'}; ${complete ? 'shutdown complete' : 'no "shutdown complete"'}; WAL left ${walBytes} bytes`;
    // Clients are refused until the output's log end after the restart is read (a few ms after
    // READY): what a restart cut off must not be mistaken for what clients wrote after it.
    await this.proxy.proxy.refuse();
    let broker: BrokerProcess | undefined;
    for (let attempt = 1; broker === undefined; attempt++) {
      try {
        broker = await startBroker({ port: this.broker.port, dataDir: this.broker.dataDir, readyTimeoutMs: 120_000 });
      } catch (error) {
        if (attempt >= 5) throw error;
        say(`broker did not start again (attempt ${attempt}): ${String(error).split('\n')[0]}`);
        await sleep(1_000);
      }
    }
    this.broker = broker;
    const readyAt = Date.now();
    try {
      const ends = await this.admin(async (client) => {
        const out = new Map<number, bigint>();
        for (let p = 0; p < this.o.eosWorkers; p++) out.set(p, (await firstValueFrom(client.getOffsetBounds$(TOPIC_OUT, p))).latest);
        return out;
      });
      for (const [partition, to] of ends) this.drainWindows.push({ partition, from: endsBefore.get(partition) ?? to, to });
    } catch (error) {
      say(`could not read the output's log end after the restart: ${String(error)}`);
    } finally {
      await this.proxy.proxy.restore();
    }
    window.to = readyAt;
    this.brokerEpoch++;
    this.restarts.push({ sigtermAt, exitedAt, readyAt, clean, detail });
    say(`broker restart ${this.restarts.length}: ${detail}; down ${seconds(readyAt - sigtermAt)}`);
  }

  /** Reads the output topic's new part both ways, notes the hidden positions; returns the log ends. */
  private async scanOutput(client: Client): Promise<Map<number, bigint>> {
    const ends = new Map<number, bigint>();
    const reader = clientLogReader(client);
    const reported = new Set(this.eosReported.map(([p, o]) => `${p}@${o}`));
    for (let p = 0; p < this.o.eosWorkers; p++) {
      const end = await reader.logEnd(TOPIC_OUT, p);
      ends.set(p, end);
      const from = this.scannedFrom.get(p) ?? 0n;
      const uncommitted: bigint[] = [];
      for (let offset = from; offset < end; ) {
        const page = await reader.fetch(TOPIC_OUT, p, offset, 'read_uncommitted', true);
        if (page.length === 0) {
          offset += 1n;
          continue;
        }
        for (const r of page) if (r.offset >= offset) uncommitted.push(r.offset);
        offset = page[page.length - 1]!.offset + 1n;
      }
      const visible = new Set<bigint>();
      for (let offset = from; offset < end; ) {
        const page = await reader.fetch(TOPIC_OUT, p, offset, 'read_committed', true);
        if (page.length === 0) {
          const next = uncommitted.find((o) => o > offset);
          if (next === undefined) break;
          offset = next;
          continue;
        }
        for (const r of page) visible.add(r.offset);
        offset = page[page.length - 1]!.offset + 1n;
      }
      let next = end;
      for (const o of uncommitted) {
        if (!visible.has(o)) this.hiddenBeforeRestart.add(`${p}@${o}`);
        // Visible but not (yet) reported committed: it may still be aborted; scan it again next time.
        else if (!reported.has(`${p}@${o}`)) {
          this.unreportedBeforeRestart.add(`${p}@${o}`);
          if (o < next) next = o;
        }
      }
      this.scannedFrom.set(p, next);
    }
    return ends;
  }

  private brokerLog(): string {
    try {
      return readFileSync(this.broker.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Bytes in rivvend's WAL files (a clean stop checkpoints them away). */
  private walBytes(): number {
    const walDir = join(this.broker.dataDir, 'wal');
    if (!existsSync(walDir)) return 0;
    let bytes = 0;
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else bytes += statSync(path).size;
      }
    };
    walk(walDir);
    return bytes;
  }

  // ------------------------------------------------------------------ schedules

  private async every(firstAtMs: number, everyMs: () => number, act: () => Promise<void>): Promise<void> {
    let next = this.t0 + firstAtMs;
    while (!this.stopping && next < this.chaosEnd) {
      await sleep(next - Date.now());
      if (this.stopping || Date.now() >= this.chaosEnd) return;
      await act();
      next += everyMs();
    }
  }

  private restartLoop(): Promise<void> {
    const every = this.o.restartEveryS * 1000;
    return this.every(every / 2, () => every, async () => {
      this.restarting = this.restartBroker();
      await this.restarting;
      this.restarting = undefined;
    });
  }

  private memberKillLoop(): Promise<void> {
    const every = this.o.memberKillEveryS * 1000;
    let leaderTurn = true;
    return this.every(
      Math.min(20_000, every / 2),
      () => every * (0.8 + 0.4 * this.rand()),
      async () => {
        const members = this.live('group');
        const leaders = members.filter((w) => w.isLeader);
        const followers = members.filter((w) => !w.isLeader);
        const pool = (leaderTurn ? leaders : followers).length > 0 ? (leaderTurn ? leaders : followers) : members;
        leaderTurn = !leaderTurn;
        const victim = pool[Math.floor(this.rand() * pool.length)];
        if (victim === undefined) return;
        say(`SIGKILL ${victim.name} (${victim.isLeader ? 'leader' : 'follower'}); a new member joins`);
        this.groupKills++;
        await this.kill(victim);
        this.startGroupWorker();
      },
    );
  }

  private eosKillLoop(): Promise<void> {
    const every = this.o.eosKillEveryS * 1000;
    return this.every(
      Math.min(35_000, every * 0.6),
      () => every * (0.8 + 0.4 * this.rand()),
      async () => {
        const stage = this.live('eos');
        const victim = stage[Math.floor(this.rand() * stage.length)];
        if (victim === undefined) return;
        say(`SIGKILL ${victim.name}; restarted with the same transactional id`);
        this.eosKills++;
        this.lastEosKillAt = Date.now();
        await this.kill(victim);
        await sleep(500 + 1_000 * this.rand());
        if (!this.stopping) this.startEosWorker(victim.slot);
      },
    );
  }

  // ------------------------------------------------------------------ phases

  async run(): Promise<number> {
    const o = this.o;
    say(`${o.minutes} min, seed ${o.seed}, ${o.rate} records/s, ${o.groupWorkers} group members, ${o.eosWorkers} exactly-once processes; run dir ${this.runDir}`);
    process.env.RUST_LOG ??= 'warn,rivvend::cluster_server=info';
    this.broker = await startBroker({ readyTimeoutMs: 120_000 });
    say(`broker ${this.broker.address} (pid ${this.broker.pid}, data ${this.broker.dataDir})`);
    await this.admin(async (client) => {
      await firstValueFrom(client.createTopic$(TOPIC_A, PARTITIONS));
      await firstValueFrom(client.createTopic$(TOPIC_B, PARTITIONS));
      await firstValueFrom(client.createTopic$(TOPIC_OUT, o.eosWorkers));
    });
    const rand = this.rand;
    this.proxy = await ChaosProxy.start(this.broker.address, {
      lifetime: o.lifetime,
      random: rand,
      ...(o.episodes
        ? {
            episodes: {
              everyMs: { minMs: 10_000, maxMs: 20_000 },
              choices: [
                { kind: 'latency', ms: 100, durationMs: 3_000 },
                { kind: 'reset' },
                { kind: 'blackhole', durationMs: 2_000 },
              ],
            },
          }
        : {}),
    });
    say(`chaos proxy ${this.proxy.address}: every connection ends after ${o.lifetime.minMs}–${o.lifetime.maxMs} ms${o.episodes ? ', with latency/reset/blackhole episodes' : ''}`);

    this.t0 = Date.now();
    this.chaosEnd = this.t0 + o.minutes * 60_000;
    this.progress = new ProgressGaps(this.down, this.t0, this.chaosEnd);
    this.progress.track('producer acks');
    for (let p = 0; p < PARTITIONS; p++) {
      this.progress.track(`group ${TOPIC_A}/${p}`);
      this.progress.track(`eos ${TOPIC_B}/${p}`);
    }
    for (let i = 0; i < o.groupWorkers; i++) this.startGroupWorker();
    for (let slot = 0; slot < o.eosWorkers; slot++) this.startEosWorker(slot);
    const producer = this.startProducer();

    const status = setInterval(() => {
      const s = this.proxy.stats();
      const acked = this.ledger.filter((e) => e?.ack).length;
      say(
        `t=${seconds(Date.now() - this.t0)}: acked ${acked}, failed ${this.ledger.filter((e) => e?.failed).length}, group processed ${this.processed.length}, ` +
          `eos transactions ${this.eosTransactions} (retries ${this.eosRetries}), members ${this.live('group').length}, generations ${this.generations.size}, ` +
          `connections killed ${s.connectionsKilled}, died ${this.died.length}`,
      );
    }, 15_000);

    await Promise.all([this.restartLoop(), this.memberKillLoop(), this.eosKillLoop(), sleep(this.chaosEnd - Date.now())]);
    await this.restarting;
    say('chaos phase over: the producer stops; the pipelines drain (connections still killed)');

    // Stop producing; every send gets its outcome (bounded by the producer's flush timeout).
    producer.endedByUs = 'close';
    this.send(producer, 'stop');
    const ended = await Promise.race([producer.exited.then(() => true), sleep(90_000).then(() => false)]);
    if (!ended) {
      say('the producer did not stop within 90 s: SIGKILL');
      await this.kill(producer);
    }

    // Drain: the group and the exactly-once stage catch up with the logs.
    const drainStart = Date.now();
    while (Date.now() - drainStart < DRAIN_LIMIT_MS) {
      if (await this.drained().catch(() => false)) {
        this.drainedAfterMs = Date.now() - drainStart;
        break;
      }
      await sleep(2_000);
    }
    this.drainEnd = Date.now();
    say(this.drainedAfterMs === undefined ? `not drained within ${seconds(DRAIN_LIMIT_MS)}` : `drained in ${seconds(this.drainedAfterMs)}`);
    clearInterval(status);

    // Close every worker gracefully (bounded), then stop the chaos and read everything back.
    say('closing every worker');
    this.closingWorkers = true;
    this.stopping = true;
    const closing = [...this.workers].map(async (w) => {
      w.endedByUs = 'close';
      this.send(w, 'close');
      const closed = await Promise.race([w.exited.then(() => true), sleep(CLOSE_LIMIT_MS).then(() => false)]);
      if (!closed) {
        this.notClosed.push(w.name);
        await this.kill(w);
      }
    });
    await Promise.all(closing);
    const proxyStats = this.proxy.stats();
    await this.proxy.close();
    // A commit a SIGKILL cut off stays visible until rivvend's reaper aborts it (the transaction
    // timeout, plus up to 5 s): read back only after that.
    const lastCutOff = Math.max(this.lastEosKillAt, ...this.died.filter((d) => d.name.startsWith('eos')).map((d) => d.at));
    const reaped = lastCutOff + EOS_TRANSACTION_TIMEOUT_MS + 7_000 - Date.now();
    if (lastCutOff > 0 && reaped > 0) {
      say(`waiting ${seconds(reaped)} for the broker's reaper to abort what the last exactly-once SIGKILL left open`);
      await sleep(reaped);
    }

    say('reading everything back from the broker');
    const logs = await this.admin((client) => readLog(clientLogReader(client), [TOPIC_A, TOPIC_B, TOPIC_OUT], { stored: false }));
    const { text, passed } = judgeRun(
      {
        options: this.o,
        t0: this.t0,
        chaosEnd: this.chaosEnd,
        restarts: this.restarts,
        ledger: this.ledger,
        producerSent: this.producerSent,
        rss: this.rss,
        lastProducerHealth: this.lastProducerHealth,
        processed: this.processed,
        generations: this.generations.size,
        groupKills: this.groupKills,
        groupBackwards: this.groupBackwards,
        groupTruncations: this.groupTruncations,
        eosKills: this.eosKills,
        eosReported: this.eosReported,
        eosTransactions: this.eosTransactions,
        eosRetries: this.eosRetries,
        eosRetryKinds: this.eosRetryKinds,
        hiddenBeforeRestart: this.hiddenBeforeRestart,
        drainWindows: this.drainWindows,
        unreportedBeforeRestart: this.unreportedBeforeRestart,
        died: this.died,
        gaps: this.progress.finish(this.drainEnd, (name) => {
          // A pipeline that got through everything acknowledged to the producer was idle, not stalled, after its last progress.
          if (name === 'producer acks') {
            if (this.producerSent < 0) return false;
            for (let seq = 0; seq < this.producerSent; seq++) if (this.ledger[seq]?.ack === undefined && this.ledger[seq]?.failed === undefined) return false;
            return true;
          }
          const tp = name.replace(/^(group|eos) /, '');
          return (this.caughtUpTo.get(tp) ?? -1n) >= (this.lastAcked.get(tp) ?? -1n);
        }),
        proxyStats,
        drainedAfterMs: this.drainedAfterMs,
        notClosed: this.notClosed,
        runDir: this.runDir,
      },
      logs,
    );
    process.stdout.write(`${text}\n`);
    writeFileSync(join(this.runDir, 'summary.md'), `${text}\n`);
    return passed ? 0 : 1;
  }

  private async drained(): Promise<boolean> {
    return this.admin(async (client) => {
      for (let p = 0; p < PARTITIONS; p++) {
        const a = await firstValueFrom(client.getOffsetBounds$(TOPIC_A, p));
        const ga = (await firstValueFrom(client.getOffset$(GROUP, TOPIC_A, p))) ?? 0n;
        const b = await firstValueFrom(client.getOffsetBounds$(TOPIC_B, p));
        const gb = (await firstValueFrom(client.getOffset$(EOS_GROUP, TOPIC_B, p))) ?? 0n;
        if (ga < a.latest || gb < b.latest) return false;
      }
      return true;
    });
  }

  // ------------------------------------------------------------------ cleanup

  /** Stop everything this run started, by pid. */
  async cleanup(emergency: boolean): Promise<void> {
    this.stopping = true;
    if (emergency) this.aborted = true;
    for (const w of [...this.workers]) {
      w.endedByUs ??= 'kill';
      w.child.kill('SIGKILL');
    }
    await this.proxy?.close().catch(() => undefined);
    if (!this.broker) return;
    if (emergency) {
      // A restart under way ends when its broker is gone, and starts no other.
      await this.broker.kill();
      await Promise.race([this.restarting?.catch(() => undefined), sleep(15_000)]);
      await this.broker.kill();
    } else {
      await this.broker.stop({ keepData: true, graceMs: 20_000 });
    }
    if (!this.o.keep) {
      const logFile = this.broker.logFile;
      try {
        appendFileSync(join(this.runDir, 'broker.log'), readFileSync(logFile));
      } catch {
        /* no log */
      }
      rmSync(this.broker.dataDir, { recursive: true, force: true });
      rmSync(logFile, { force: true });
    } else say(`broker data kept: ${this.broker.dataDir} (log ${this.broker.logFile})`);
  }

  /** Longest the whole run may take before it is stopped as stuck. */
  deadlineMs(): number {
    return this.o.minutes * 60_000 + 180_000 + DRAIN_LIMIT_MS + CLOSE_LIMIT_MS + 120_000;
  }
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const run = new ChaosRun(options);
  let finishing = false;
  const emergency = (why: string, code: number) => {
    if (finishing) return;
    finishing = true;
    say(`${why}: stopping every process this run started`);
    void run.cleanup(true).finally(() => process.exit(code));
  };
  process.on('SIGINT', () => emergency('SIGINT', 130));
  process.on('SIGTERM', () => emergency('SIGTERM', 143));
  const deadline = setTimeout(() => emergency(`the run passed its deadline (${seconds(run.deadlineMs())})`, 1), run.deadlineMs());
  deadline.unref();
  let code = 1;
  try {
    code = await run.run();
  } catch (error) {
    // After an emergency stop, the run failing is its consequence, not news.
    if (!finishing) say(`the run itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    code = 1;
  }
  if (finishing) return;
  finishing = true;
  await run.cleanup(false);
  clearTimeout(deadline);
  process.exit(code);
}

void main();
