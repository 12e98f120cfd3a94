#!/usr/bin/env node
// rivven-rx (TypeScript) vs rivven-client 0.0.22 (Rust) — and the Python `rivven` 0.0.22 client
// where it installs — on one real rivvend 0.0.22 broker, in one run. See bench/README.md.
//
//   npm run bench                      full: 3 rounds (~30 minutes)
//   npm run bench -- --quick           2 rounds, small sizes (< 5 minutes once built)
//   options: --rounds N  --partitions P  --records N (produce throughput records per side)
//            --backlog N (consume backlog)  --only produce,latency,consume,e2e,codec,tracing
//            --no-python  --no-write
//
// Every workload runs each side in turn (A/B, then B/A the next round), reports medians over the
// rounds and the TS/Rust ratio. Output: a markdown table on stdout and in bench/results/latest.md,
// JSON in bench/results/latest.json, progress on stderr.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTopic, dataRoot, seedBacklog, startBroker } from './lib/broker.mjs';
import * as codecTs from './lib/codec.mjs';
import * as python from './lib/python-side.mjs';
import { markdown, summarise } from './lib/report.mjs';
import * as rust from './lib/rust-side.mjs';
import { fmtAuto, progress } from './lib/stats.mjs';
import * as ts from './lib/ts-side.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---- options ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
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
  codec: { records: 1_000, valueSize: 100, millis: quick ? 1_000 : 3_000 },
  python: !flag('--no-python'),
  write: !flag('--no-write'),
};
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

/** Runs of one workload: each side in turn, alternating who goes first per round. */
async function alternate(runs, round, workload, sides, runSide) {
  const order = round % 2 === 1 ? sides : [...sides].reverse();
  for (const side of order) {
    let result;
    try {
      result = await runSide(side);
    } catch (error) {
      // The Python client is a guest: its failure is reported, not fatal. TS and Rust must work.
      if (side !== 'python') throw error;
      const message = String(error?.message ?? error).split('\n').filter(Boolean).slice(-1)[0];
      runs.push({ round, workload, side, error: message });
      progress(`round ${round}/${plan.rounds} ${workload} ${side.padEnd(6)} FAILED: ${message}`);
      continue;
    }
    runs.push({ round, workload, side, ...result });
    const rate = result.records && result.seconds ? `${fmtAuto(result.records / result.seconds)} rec/s, ` : '';
    const lat = result.latencyMs ? `p50 ${fmtAuto(result.latencyMs.p50)} ms p99 ${fmtAuto(result.latencyMs.p99)} ms, ` : '';
    const codec = result.encode ? `encode ${fmtAuto(result.encode.mbPerSecond)} MB/s decode ${fmtAuto(result.decode.mbPerSecond)} MB/s, ` : '';
    progress(`round ${round}/${plan.rounds} ${workload} ${side.padEnd(6)} ${rate}${lat}${codec}${result.seconds ? `${fmtAuto(result.seconds)} s` : ''}`);
  }
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
  const stopOnSignal = () => {
    broker.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const runs = [];
  const address = broker.address;
  let topicNumber = 0;
  const freshTopic = async (prefix, side, partitions) => {
    const topic = `bench-${prefix}-${side}-${++topicNumber}`;
    await createTopic(address, topic, partitions);
    return topic;
  };
  try {
    let backlogTopic;
    if (enabled('consume')) {
      backlogTopic = `bench-backlog-${++topicNumber}`;
      await createTopic(address, backlogTopic, plan.partitions);
      progress(`seeding ${plan.backlog.records.toLocaleString('en-US')} × ${plan.backlog.valueSize} B into ${backlogTopic} (${plan.partitions} partitions, 64 connections)`);
      const seeded = await seedBacklog(address, backlogTopic, plan.partitions, plan.backlog.records, plan.backlog.valueSize, {
        onProgress: (done, total) => progress(`  seeded ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`),
      });
      progress(`seeded in ${fmtAuto(seeded.seconds)} s (${fmtAuto(seeded.records / seeded.seconds)} rec/s)`);
    }
    for (let round = 1; round <= plan.rounds; round++) {
      if (enabled('codec')) {
        await alternate(runs, round, 'codec', sides.filter((s) => s !== 'python'), (side) =>
          side === 'ts' ? codecTs.codec(plan.codec) : rust.codec(plan.codec),
        );
      }
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
  } finally {
    await broker.stop();
    progress('broker stopped');
  }
  const summary = summarise(runs);
  const meta = {
    command,
    plan,
    dataRoot,
    python: py,
    finishedAt: new Date().toISOString(),
    wallSeconds: (Date.now() - started) / 1000,
  };
  const text = markdown(summary, runs, machine, meta);
  process.stdout.write(text);
  if (plan.write) {
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'latest.md'), text);
    writeFileSync(join(dir, 'latest.json'), JSON.stringify({ ...meta, machine, summary, runs }, null, 2) + '\n');
    progress('wrote bench/results/latest.md and latest.json');
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
