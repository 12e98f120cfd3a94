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
 * Files: chaos-options.ts (the command line), chaos-restarts.ts (what a restart left), chaos-workers.ts (the worker processes' lives), chaos-producer.ts, chaos-group-worker.ts,
 * chaos-eos-worker.ts (the worker processes),
 * chaos-io.ts (their line protocol), chaos-check.ts and chaos-judge.ts (the verdict); the proxy is
 * spec/support/chaos-proxy.ts's ChaosProxy. Run through scripts/chaos.mjs, which transpiles them.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client.js';
import { startBroker, type BrokerProcess } from '../support/broker-process.js';
import { clientLogReader, readLog } from '../support/log-reader.js';
import { ChaosProxy } from '../support/chaos-proxy.js';
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
import { parseOptions, type Options } from './chaos-options.js';
import { OutputScanner, classifyStop, readBrokerLog, walBytes } from './chaos-restarts.js';
import { WorkerProcesses, type Worker } from './chaos-workers.js';

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
// The run
// ---------------------------------------------------------------------------------------------

class ChaosRun {
  private broker!: BrokerProcess;
  private proxy!: ChaosProxy;
  private readonly workers: WorkerProcesses;
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
  /** What the exactly-once output showed right before each restart (chaos-restarts.ts). */
  private readonly outputScan = new OutputScanner();
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
    this.workers = new WorkerProcesses(this.runDir, here, {
      line: (worker, line) => this.onLine(worker, line),
      exited: (worker, code, signal) => this.onExit(worker, code, signal),
    });
  }

  private get proxyAddress(): string {
    return this.proxy.address;
  }

  // ------------------------------------------------------------------ processes

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const ours = worker.endedByUs === 'kill' || (worker.endedByUs === 'close' && code === 0);
    if (ours) return;
    this.died.push({ name: worker.name, at: Date.now(), code, signal, failure: worker.lastFailure });
    say(`${worker.name} (pid ${worker.pid}) died on its own: ${signal ?? `exit ${code}`}${worker.lastFailure ? ` — ${worker.lastFailure}` : ''}`);
    if (this.stopping || this.closingWorkers) return;
    // Keep the run going as a supervisor would: replace it (the death is counted).
    if (worker.kind === 'group') this.startGroupWorker();
    else if (worker.kind === 'eos') this.startEosWorker(worker.slot);
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
    return this.workers.spawn('producer', 'producer', 'chaos-producer.js', config);
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
    return this.workers.spawn('group', `member-${++this.memberSerial}`, 'chaos-group-worker.js', config);
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
    return this.workers.spawn('eos', `eos-${slot}.${++this.eosSerial}`, 'chaos-eos-worker.js', config, slot);
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
      endsBefore = await this.admin((client) => this.outputScan.scan(client, this.o.eosWorkers, this.eosReported));
    } catch (error) {
      say(`could not scan the output before the restart: ${String(error)}`);
    }
    const logBefore = readBrokerLog(this.broker).length;
    const sigtermAt = Date.now();
    const window = { from: sigtermAt, to: Number.POSITIVE_INFINITY };
    this.down.push(window);
    say(`broker restart ${this.restarts.length + 1}: SIGTERM`);
    await this.broker.stop({ keepData: true, graceMs: 40_000 });
    if (this.aborted) throw new Error('the run was stopped during a broker restart');
    const exitedAt = Date.now();
    const { clean, detail } = classifyStop(readBrokerLog(this.broker).slice(logBefore), walBytes(this.broker.dataDir), exitedAt - sigtermAt);
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
        const members = this.workers.live('group');
        const leaders = members.filter((w) => w.isLeader);
        const followers = members.filter((w) => !w.isLeader);
        const pool = (leaderTurn ? leaders : followers).length > 0 ? (leaderTurn ? leaders : followers) : members;
        leaderTurn = !leaderTurn;
        const victim = pool[Math.floor(this.rand() * pool.length)];
        if (victim === undefined) return;
        say(`SIGKILL ${victim.name} (${victim.isLeader ? 'leader' : 'follower'}); a new member joins`);
        this.groupKills++;
        await this.workers.kill(victim);
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
        const stage = this.workers.live('eos');
        const victim = stage[Math.floor(this.rand() * stage.length)];
        if (victim === undefined) return;
        say(`SIGKILL ${victim.name}; restarted with the same transactional id`);
        this.eosKills++;
        this.lastEosKillAt = Date.now();
        await this.workers.kill(victim);
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
          `eos transactions ${this.eosTransactions} (retries ${this.eosRetries}), members ${this.workers.live('group').length}, generations ${this.generations.size}, ` +
          `connections killed ${s.connectionsKilled}, died ${this.died.length}`,
      );
    }, 15_000);

    await Promise.all([this.restartLoop(), this.memberKillLoop(), this.eosKillLoop(), sleep(this.chaosEnd - Date.now())]);
    await this.restarting;
    say('chaos phase over: the producer stops; the pipelines drain (connections still killed)');

    // Stop producing; every send gets its outcome (bounded by the producer's flush timeout).
    producer.endedByUs = 'close';
    this.workers.send(producer, 'stop');
    const ended = await Promise.race([producer.exited.then(() => true), sleep(90_000).then(() => false)]);
    if (!ended) {
      say('the producer did not stop within 90 s: SIGKILL');
      await this.workers.kill(producer);
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
    const closing = [...this.workers.all].map(async (w) => {
      w.endedByUs = 'close';
      this.workers.send(w, 'close');
      const closed = await Promise.race([w.exited.then(() => true), sleep(CLOSE_LIMIT_MS).then(() => false)]);
      if (!closed) {
        this.notClosed.push(w.name);
        await this.workers.kill(w);
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
        hiddenBeforeRestart: this.outputScan.hidden,
        drainWindows: this.drainWindows,
        unreportedBeforeRestart: this.outputScan.unreported,
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
    for (const w of [...this.workers.all]) {
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
