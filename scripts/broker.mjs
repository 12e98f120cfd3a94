#!/usr/bin/env node
// `npm run broker`: a real local rivvend 0.0.22 broker for your own application, in the foreground.
//
//   npm run broker                          port 9092, a fresh data dir (deleted when it stops)
//   npm run broker -- --port 19092          another port (0: a free one)
//   npm run broker -- --data-dir ./data     keep the data in ./data (kept when it stops)
//
// It prints the bootstrap address and the data dir, and stops cleanly on Ctrl-C or SIGTERM
// (rivvend checkpoints its log; a SIGKILL would not let it: see docs/broker-behaviour.md). The
// broker is the test harness's (scripts/harness.mjs): built from the Rust crate registry the first
// time (needs `cargo`; 20-40 minutes on 2 cores), reused afterwards. Loopback only (127.0.0.1).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { binaryPath, build } from './harness.mjs';

const DEFAULT_PORT = 9092;

function say(message) {
  process.stderr.write(`[broker] ${message}\n`);
}

function usage(problem) {
  if (problem) say(problem);
  say('usage: npm run broker [-- --port <port, default 9092; 0 = a free one>] [--data-dir <dir, default a fresh temp dir deleted on exit>]');
  return 2;
}

/** `--port 9092`, `--port=9092`, `--data-dir ./data`, `--data-dir=./data`, `--help`. */
function parseArgs(argv) {
  const options = { port: DEFAULT_PORT, dataDir: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--help' || flag === '-h') return { help: true };
    if (flag === '--port' || flag === '-p') {
      const text = value();
      const port = Number(text);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) return { error: `--port expects 0..65535, got ${JSON.stringify(text)}` };
      options.port = port;
    } else if (flag === '--data-dir' || flag === '-d') {
      const dir = value();
      if (!dir) return { error: '--data-dir expects a directory' };
      options.dataDir = resolve(dir);
    } else {
      return { error: `unknown argument ${JSON.stringify(argv[i])}` };
    }
  }
  return { options };
}

async function main() {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed.help) {
    usage();
    return 0;
  }
  if (parsed.error) return usage(parsed.error);
  const { port } = parsed.options;
  // Built once; afterwards the binary is used as it is (no cargo run at each start).
  if (!existsSync(binaryPath) && (await build()) !== 0) return 1;
  const temporary = parsed.options.dataDir === undefined;
  const dataDir = parsed.options.dataDir ?? mkdtempSync(join(tmpdir(), 'rivven-rx-broker-'));
  mkdirSync(dataDir, { recursive: true });
  // stdin is a pipe we hold: if this process dies, the broker sees EOF and shuts down (no orphan).
  // Its own process group: a terminal's Ctrl-C reaches only us, and we send it one SIGTERM (a
  // second signal would make it stop without waiting for rivvend's checkpoint).
  const child = spawn(binaryPath, ['broker', '--port', String(port), '--data-dir', dataDir, '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true,
  });
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the broker (up to ~15 s while it checkpoints)`);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  let seen = '';
  let reported = false;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    if (reported) return;
    seen += chunk;
    const ready = /^READY (\S+)/m.exec(seen);
    if (ready) {
      reported = true;
      say(`rivvend 0.0.22 ready — bootstrapServers: '${ready[1]}'`);
      say(`data dir: ${dataDir}${temporary ? ' (deleted when the broker stops; --data-dir <dir> keeps it)' : ''}`);
      say('Ctrl-C stops it cleanly');
      // The address alone on stdout, for scripts: `npm run broker --silent | head -1`.
      process.stdout.write(`${ready[1]}\n`);
    }
  });
  const code = await new Promise((resolvePromise) => child.once('exit', (exitCode, signal) => resolvePromise(exitCode ?? (signal ? 1 : 0))));
  if (temporary) rmSync(dataDir, { recursive: true, force: true });
  if (!stopping) say(`the broker exited with code ${code}${code !== 0 ? ` (is port ${port} in use? try --port 0)` : ''}`);
  else say('stopped');
  return stopping ? 0 : code || 1;
}

process.exitCode = await main();
