// The Rust rivven-client 0.0.22 side: subcommands of the interop harness, one JSON line each.
import { spawn } from 'node:child_process';
import { harness } from './harness-process.mjs';

export function runHarness(args, { timeoutMs = 900_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(harness, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${args[0]} exited ${code ?? signal}: ${stderr.trim().slice(-2000)}`));
      try {
        resolvePromise(JSON.parse(line));
      } catch {
        reject(new Error(`${args[0]} printed no JSON: ${stdout} ${stderr}`));
      }
    });
  });
}

export async function produceThroughput(address, topic, { records, valueSize }) {
  const result = await runHarness(['bench-produce', '--addr', address, '--topic', topic, '--records', String(records), '--value-size', String(valueSize)]);
  if (result.acked !== records) throw new Error(`Rust: ${result.acked} of ${records} acknowledged`);
  return result;
}

export function produceLatency(address, topic, { records, valueSize, warmup = 20 }) {
  return runHarness([
    'bench-produce', '--latency', '--addr', address, '--topic', topic,
    '--records', String(records), '--value-size', String(valueSize), '--warmup', String(warmup),
  ]);
}

export function consume(address, topic, { partitions, records }) {
  return runHarness(['bench-consume', '--addr', address, '--topic', topic, '--partitions', String(partitions), '--records', String(records)]);
}

export function endToEnd(address, topic, { records, rate, valueSize }) {
  return runHarness(['bench-e2e', '--addr', address, '--topic', topic, '--records', String(records), '--rate', String(rate), '--value-size', String(valueSize)]);
}

export function codec({ records, valueSize, millis }) {
  return runHarness(['bench-codec', '--records', String(records), '--value-size', String(valueSize), '--millis', String(millis)]);
}
