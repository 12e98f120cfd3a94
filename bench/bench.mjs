#!/usr/bin/env node
// rivven-rx (TypeScript) vs rivven-client 0.0.22 (Rust) — and the Python `rivven` 0.0.22 client
// where it installs — on one real rivvend 0.0.22 broker, in one run. See bench/README.md.
//
//   npm run bench                      full: 3 rounds (~30 minutes before the sink rows; not timed since)
//   npm run bench -- --quick           2 rounds, small sizes (~3 minutes once built)
//   options: --rounds N  --partitions P  --records N (produce throughput records per side)
//            --backlog N (consume backlog)  --reps N (repetitions per round of the codec and sink rows)
//            --extra-rounds N (at most N more rounds of them while a ratio is over ±10 %; quick 0, full 3)
//            --sink-records N (sink produce records)  --sink-log N (sink consume log)
//            --only produce,latency,consume,e2e,codec,tracing,sink,parallel  --no-python  --no-write
//
// Every workload runs each side in turn (A/B, then B/A the next round; the cheap codec and sink
// rows several times per round), reports medians over the rounds with their spread and the TS/Rust
// ratio (⚠ on a row spread over ±10 %). The `sink …` rows run against `rivven-rx-interop sink`, a
// measuring instrument that answers at once (bench/lib/sink.mjs). Output: a markdown table on stdout
// and in bench/results/latest.md, JSON in bench/results/latest.json, progress on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTopic, dataRoot, seedBacklog, startBroker } from './lib/broker.mjs';
import { positiveIntegerOption } from './lib/cli-options.mjs';
import * as codecTs from './lib/codec.mjs';
import * as python from './lib/python-side.mjs';
import { WARNING, markdown, summarise } from './lib/report.mjs';
import * as rust from './lib/rust-side.mjs';
import { SINK_LOG_TOPIC, dropTopic, startSink } from './lib/sink.mjs';
import { fmtAuto, progress } from './lib/stats.mjs';
import * as ts from './lib/ts-side.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---- options ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => positiveIntegerOption(argv, name, fallback);
const atLeastZero = (name) => {
  const value = Number(argv[argv.indexOf(name) + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} needs an integer ≥ 0`);
  return value;
};
const quick = flag('--quick');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set(argv[onlyAt + 1].split(',')) : undefined;
const enabled = (name) => !only || only.has(name);
const plan = {
  quick,
  // Two rounds even in quick mode: A/B then B/A, so neither side always runs first or last.
  rounds: option('--rounds', quick ? 2 : 3),
  partitions: option('--partitions', 3),
  // 1 KiB runs get a third of the records: the broker's per-record fsync, not bytes, sets the pace.
  produce: [
    { name: '100 B', valueSize: 100, records: option('--records', quick ? 4_000 : 30_000) },
    { name: '1 KiB', valueSize: 1024, records: Math.max(1, Math.round(option('--records', quick ? 4_000 : 30_000) / 3)) },
  ],
  latency: { records: quick ? 200 : 1_000, valueSize: 100, warmup: 20 },
  backlog: { records: option('--backlog', quick ? 60_000 : 1_000_000), valueSize: 100 },
  // Below one connection's capacity (~20 acknowledged sends/s with the broker's ~44 ms lone round trip), so this measures latency, not queueing.
  e2e: { records: quick ? 80 : 600, rate: 10, valueSize: 100 },
  // Cheap rows (codec, sink) run `reps` times per round, alternating sides; the round's figure is their median.
  reps: option('--reps', quick ? 3 : 5),
  // Then up to this many more rounds of them while one of their TS/Rust ratios is over ±10 %.
  extraRounds: argv.includes('--extra-rounds') ? atLeastZero('--extra-rounds') : quick ? 0 : 3,
  codec: { records: 1_000, valueSize: 100, millis: quick ? 400 : 1_000 },
  // Against the sink (a measuring instrument, not a broker): the client is the limit.
  sink: { valueSize: 100, records: option('--sink-records', quick ? 50_000 : 200_000), logRecords: option('--sink-log', quick ? 300_000 : 1_000_000) },
  python: !flag('--no-python'),
  write: !flag('--no-write'),
};
/** Workloads of the cheap rows (many repetitions, extra rounds). */
const CHEAP = /^(codec|sink )/;
const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;

function machineInfo() {
  let rustc = 'unknown';
  try {
    rustc = execFileSync('rustc', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // only shown in the report
  }
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    rustc,
    platform: `${process.platform} ${process.arch}`,
  };
}

/**
 * Runs of one workload: each side in turn, alternating who goes first per round (and per
 * repetition when `reps` > 1, for the cheap rows).
 */
async function alternate(runs, round, workload, sides, runSide, reps = 1) {
  for (let rep = 0; rep < reps; rep++) {
    const order = (round + rep) % 2 === 1 ? sides : [...sides].reverse();
    const label = `${reps > 1 ? `${round}.${rep + 1}` : round}${round > plan.rounds ? ' (extra)' : `/${plan.rounds}`}`;
    for (const side of order) {
      let result;
      try {
        result = await runSide(side);
      } catch (error) {
        // The Python client is a guest: its failure is reported, not fatal. TS and Rust must work.
        if (side !== 'python') throw error;
        const message = String(error?.message ?? error).split('\n').filter(Boolean).slice(-1)[0];
        runs.push({ round, workload, side, error: message });
        progress(`round ${label} ${workload} ${side.padEnd(6)} FAILED: ${message}`);
        continue;
      }
      runs.push({ round, ...(reps > 1 ? { rep } : {}), workload, side, ...result });
      const rate = result.records && result.seconds ? `${fmtAuto(result.records / result.seconds)} rec/s, ` : '';
      const cpu = typeof result.cpuSeconds === 'number' && result.records ? `${fmtAuto((result.cpuSeconds / result.records) * 1e6)} CPU s/M, ` : '';
      const lat = result.latencyMs ? `p50 ${fmtAuto(result.latencyMs.p50)} ms p99 ${fmtAuto(result.latencyMs.p99)} ms, ` : '';
      const codec = result.encode ? `encode ${fmtAuto(result.encode.mbPerSecond)} MB/s decode ${fmtAuto(result.decode.mbPerSecond)} MB/s, ` : '';
      progress(`round ${label} ${workload} ${side.padEnd(6)} ${rate}${cpu}${lat}${codec}${result.seconds ? `${fmtAuto(result.seconds)} s` : ''}`);
    }
  }
}

/**
 * The `sink …` rows: TS and Rust against one sink (bench/lib/sink.mjs), `plan.reps` times per
 * round. Records/s and client CPU per record with no broker cost behind them.
 */
/** TS runs of every sink workload before the first measured one (see sinkRound). */
const SINK_WARMUP_RUNS = 4;

async function sinkRound(runs, round, sink) {
  const w = { records: plan.sink.records, valueSize: plan.sink.valueSize };
  let topicNumber = 0;
  const freshTopic = async (side) => {
    const topic = `sink-produce-${side}-${round}-${++topicNumber}`;
    await createTopic(sink.address, topic, plan.partitions);
    return topic;
  };
  const produce = (connections, via) => async (side) => {
    const topic = await freshTopic(side);
    try {
      const result = side === 'ts' ? await ts.produceThroughput(sink.address, topic, { ...w, connections, via }) : await rust.produceThroughput(sink.address, topic, w);
      return { valueSize: w.valueSize, ...result };
    } finally {
      await dropTopic(sink.address, topic); // the sink's memory stays flat over many runs
    }
  };
  if (round === 1) {
    // Off the record: TS runs each sink workload several times first, so that measured runs see
    // code the JIT has finished optimising, as a long-running service does (the Rust side has no
    // JIT to warm). One run is not enough: on the 2-core reference machine a TS run's CPU keeps
    // falling over the first three or four runs of 50,000 records (by up to half), then holds.
    for (let i = 0; i < SINK_WARMUP_RUNS; i++) {
      for (const [connections, via] of [[1, 'sendAll$'], [undefined, 'sendAll$'], [1, 'send$']]) {
        const warmup = await freshTopic('warmup');
        await ts.produceThroughput(sink.address, warmup, { ...w, connections, via });
        await dropTopic(sink.address, warmup);
      }
      await ts.consume(sink.address, SINK_LOG_TOPIC, { partitions: plan.partitions, records: plan.sink.logRecords });
    }
    progress('sink rows: TS warmed up (off the record)');
  }
  await alternate(runs, round, 'sink produce 100 B, 1 connection', ['ts', 'rust'], produce(1, 'sendAll$'), plan.reps);
  await alternate(runs, round, 'sink produce 100 B, default connections', ['ts', 'rust'], produce(undefined, 'sendAll$'), plan.reps);
  await alternate(runs, round, 'sink produce 100 B, 1 connection, send$ per record', ['ts'], produce(1, 'send$'), plan.reps);
  const log = { partitions: plan.partitions, records: plan.sink.logRecords };
  await alternate(
    runs,
    round,
    'sink consume 100 B',
    ['ts', 'rust'],
    async (side) => ({ valueSize: plan.sink.valueSize, ...(await (side === 'ts' ? ts : rust).consume(sink.address, SINK_LOG_TOPIC, log)) }),
    plan.reps,
  );
}

async function main() {
  const machine = machineInfo();
  const started = Date.now();
  progress(`${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}; ${plan.rounds} round(s)${quick ? ' (quick)' : ''}`);
  const py = plan.python ? await python.available() : { ok: false, reason: 'skipped with --no-python' };
  progress(py.ok ? `Python: ${py.description}` : `Python column skipped: ${py.reason}`);
  const sides = py.ok ? ['ts', 'rust', 'python'] : ['ts', 'rust'];
  const broker = await startBroker();
  progress(`broker pid ${broker.pid} at ${broker.address}, data ${broker.dataDir}`);
  const sink = enabled('sink') ? await startSink({ logRecords: plan.sink.logRecords, valueSize: plan.sink.valueSize, partitions: plan.partitions }) : undefined;
  if (sink) progress(`sink (measuring instrument) pid ${sink.pid} at ${sink.address}, log ${plan.sink.logRecords.toLocaleString('en-US')} × ${plan.sink.valueSize} B`);
  const stopOnSignal = () => {
    Promise.allSettled([broker.stop(), sink?.stop()]).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const runs = [];
  let extraRounds = 0;
  const address = broker.address;
  let topicNumber = 0;
  const freshTopic = async (prefix, side, partitions) => {
    const topic = `bench-${prefix}-${side}-${++topicNumber}`;
    await createTopic(address, topic, partitions);
    return topic;
  };
  try {
    // The consume backlog is seeded when the first consume row needs it, after round 1's cheap
    // rows: seeding leaves the process a large heap to collect, and codec runs made during that
    // collection were measured up to 3× slower (decode) than the same runs a round later.
    let backlogTopic;
    const seedOnce = async () => {
      if (backlogTopic !== undefined) return;
      backlogTopic = `bench-backlog-${++topicNumber}`;
      await createTopic(address, backlogTopic, plan.partitions);
      progress(`seeding ${plan.backlog.records.toLocaleString('en-US')} × ${plan.backlog.valueSize} B into ${backlogTopic} (${plan.partitions} partitions, 64 connections)`);
      const seeded = await seedBacklog(address, backlogTopic, plan.partitions, plan.backlog.records, plan.backlog.valueSize, {
        onProgress: (done, total) => progress(`  seeded ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`),
      });
      progress(`seeded in ${fmtAuto(seeded.seconds)} s (${fmtAuto(seeded.records / seeded.seconds)} rec/s)`);
    };
    // The cheap rows (codec, sink): `plan.reps` repetitions per round, and extra rounds below.
    const cheapRows = async (round) => {
      if (enabled('codec')) {
        await alternate(
          runs,
          round,
          'codec',
          sides.filter((s) => s !== 'python'),
          (side) => (side === 'ts' ? codecTs.codec(plan.codec) : rust.codec(plan.codec)),
          plan.reps,
        );
      }
      if (sink) await sinkRound(runs, round, sink);
    };
    for (let round = 1; round <= plan.rounds; round++) {
      await cheapRows(round);
      if (enabled('produce')) {
        for (const w of plan.produce) {
          await alternate(runs, round, `produce ${w.name}`, sides, async (side) => {
            const topic = await freshTopic(`produce${w.valueSize}`, side, plan.partitions);
            const impl = side === 'ts' ? ts : side === 'rust' ? rust : python;
            return { valueSize: w.valueSize, ...(await impl.produceThroughput(address, topic, w)) };
          });
        }
      }
      if (enabled('tracing')) {
        // The price of diagnostics channels: the same 100 B produce with a subscriber on every
        // channel, next to the unsubscribed 'produce 100 B' TS row.
        const w = plan.produce[0];
        await alternate(runs, round, 'produce 100 B, every channel subscribed', ['ts'], async () => {
          const topic = await freshTopic('traced', 'ts', plan.partitions);
          return { valueSize: w.valueSize, ...(await ts.withEveryChannelSubscribed(() => ts.produceThroughput(address, topic, w))) };
        });
      }
      if (enabled('latency')) {
        await alternate(runs, round, 'produce latency', sides, async (side) => {
          const topic = await freshTopic('latency', side, 1);
          const impl = side === 'ts' ? ts : side === 'rust' ? rust : python;
          return impl.produceLatency(address, topic, plan.latency);
        });
      }
      if (enabled('consume')) {
        await seedOnce();
        const target = { partitions: plan.partitions, records: plan.backlog.records };
        await alternate(runs, round, 'consume', sides, async (side) => {
          const impl = side === 'ts' ? ts : side === 'rust' ? rust : python;
          return { valueSize: plan.backlog.valueSize, ...(await impl.consume(address, backlogTopic, target)) };
        });
      }
      if (enabled('e2e')) {
        await alternate(runs, round, 'end-to-end', sides.filter((s) => s !== 'python' || python.supportsEndToEnd), async (side) => {
          const topic = await freshTopic('e2e', side, 1);
          const impl = side === 'ts' ? ts : side === 'rust' ? rust : python;
          return impl.endToEnd(address, topic, plan.e2e);
        });
      }
    }
    // More samples for the cheap rows while one of their ratios is not yet within ±10 % (their
    // spread is an interval of the median: it narrows as runs are added).
    for (let extra = 1; extra <= plan.extraRounds; extra++) {
      const unsteady = summarise(runs).filter((r) => r.unstable && r.ratio !== null && CHEAP.test(r.source));
      if (unsteady.length === 0) break;
      progress(`extra round ${extra}/${plan.extraRounds} of the codec and sink rows: ${unsteady.length} ratio(s) over ±10 %`);
      extraRounds = extra;
      await cheapRows(plan.rounds + extra);
    }
  } finally {
    await Promise.allSettled([broker.stop(), sink?.stop()]);
    progress(sink ? 'broker and sink stopped' : 'broker stopped');
  }
  const summary = summarise(runs);
  for (const row of summary.filter((r) => r.unstable)) {
    progress(`${WARNING} ${row.workload}, ${row.metric}: spread over ±10 % (more --rounds / --reps / --extra-rounds, a quieter machine)`);
  }
  const meta = {
    command,
    plan,
    dataRoot,
    python: py,
    extraRounds,
    finishedAt: new Date().toISOString(),
    wallSeconds: (Date.now() - started) / 1000,
  };
  let text = markdown(summary, runs, machine, meta);
  // processConcurrently() against concatMap (issue 25): its own script, its own broker, one run.
  if (enabled('parallel')) {
    progress('parallel processing rows: node bench/parallel.mjs (its own broker)');
    const table = await runParallelBench();
    text += `\n## Parallel processing: \`processConcurrently()\` against \`concatMap\`\n\nFrom \`node bench/parallel.mjs\` in the same run (one partition, 10,000 records, a handler waiting a random 0–5 ms, concurrency 100).\n\n${table}`;
  }
  process.stdout.write(text);
  if (plan.write) {
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'latest.md'), text);
    writeFileSync(join(dir, 'latest.json'), JSON.stringify({ ...meta, machine, summary, runs }, null, 2) + '\n');
    progress('wrote bench/results/latest.md and latest.json');
  }
}

/** Run bench/parallel.mjs against the same dist/; its markdown table (stdout), its progress passed through. */
function runParallelBench() {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(root, 'bench', 'parallel.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolvePromise(out.trim() + '\n') : reject(new Error(`bench/parallel.mjs exited with ${code}`))));
  });
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
