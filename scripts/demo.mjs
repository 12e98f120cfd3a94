#!/usr/bin/env node
// `npm run demo`: what rivven-rx is for, in under a minute against a real local rivvend 0.0.22
// broker it starts (a fresh data dir each run) — or the broker RIVVEN_BOOTSTRAP names:
//
//   1. a producer streams 5,000 keyed orders (send$ in mergeMap: backpressure by acknowledgement)
//      into a two-member consumer group, whose health$ is rendered as a live one-line dashboard;
//      mid-way one member leaves (close()) and the other takes its partitions over;
//   2. exactly-once: transactional() consume-transform-produce into a second topic, with one
//      transform failure on purpose (abort, rewind, retry), the output read back read_committed;
//   3. a summary: records/s, send→ack p99, rebalances, duplicates (by order id) and the
//      exactly-once count. The exit code is non-zero if any check fails.
//
// On a terminal the dashboard redraws one line in place; anywhere else (CI, a pipe) it prints a
// line a second. `--orders <n>` changes the count.
//
// `npm run example -- <name>` (this script with an argument) runs examples/<name>.ts against the
// local broker instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPath, build } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const began = performance.now();
function step(message) {
  process.stderr.write(`[demo ${((performance.now() - began) / 1_000).toFixed(1)}s] ${message}\n`);
}

function parseArgs(argv) {
  const options = { example: undefined, orders: 5_000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag === '--orders') {
      const n = Number(inline ?? argv[++i]);
      if (!Number.isInteger(n) || n < 100 || n > 1_000_000) return { error: `--orders expects 100..1000000, got ${JSON.stringify(inline ?? argv[i])}` };
      options.orders = n;
    } else if (!flag.startsWith('-') && options.example === undefined) {
      options.example = flag;
    } else {
      return { error: `unknown argument ${JSON.stringify(argv[i])}` };
    }
  }
  return { options };
}

function runTsc(project) {
  const run = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`tsc -p ${project} failed`);
}

/** dist/ holds a build of every src/ file at least as new as the file (and as the build config). */
function distUpToDate() {
  const config = Math.max(...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs));
  const src = join(root, 'src');
  for (const entry of readdirSync(src, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const file = join(entry.parentPath ?? entry.path, entry.name);
    const built = join(root, 'dist', relative(src, file).replace(/\.ts$/, '.js'));
    let builtAt;
    try {
      builtAt = statSync(built).mtimeMs;
    } catch {
      return false;
    }
    if (builtAt < statSync(file).mtimeMs || builtAt < config) return false;
  }
  return true;
}

/** Start the harness broker on a free port with a fresh data dir; resolves with its address and a stop function. */
function startBroker() {
  // On tmpfs when there is one: rivvend syncs every record, and the data is thrown away anyway.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dataDir = mkdtempSync(join(base, 'rivven-rx-demo-'));
  // stdin is a pipe we hold: if this process dies, the broker sees EOF and exits (no orphan).
  const child = spawn(binaryPath, ['broker', '--port', '0', '--data-dir', dataDir, '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  let stopping;
  const stop = () => (stopping ??= stopNow());
  const stopNow = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // By pid: SIGTERM (rivvend stops in ~5 s once its clients are gone), SIGKILL after 10 s.
      process.kill(child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    child.stdin.destroy();
    child.stdout.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const ready = /^READY (\S+)/m.exec(seen);
      if (ready) resolvePromise({ address: ready[1], pid: child.pid, stop });
    });
    child.once('exit', (code) => {
      rmSync(dataDir, { recursive: true, force: true });
      reject(new Error(`broker exited with code ${code} before it was ready`));
    });
  });
}

async function main() {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed.error) {
    step(parsed.error);
    step('usage: npm run demo [-- --orders <n>]   |   npm run example -- <name of a file in examples/>');
    return 2;
  }
  const { example, orders } = parsed.options;
  if ((await build()) !== 0) return 1;
  if (example) {
    step('compiling the library and the examples');
    runTsc('tsconfig.build.json');
    runTsc('tsconfig.examples.json');
  } else if (distUpToDate()) {
    step('dist/ is up to date with src/');
  } else {
    step('compiling the library (npm run build)');
    runTsc('tsconfig.build.json');
  }
  // A watchdog from here on (the builds above may take long the first time): a demo that hangs —
  // a broker that never answers, a close() that never resolves — fails instead of holding a CI
  // job. Unref'd: it never keeps the process alive by itself.
  setTimeout(() => {
    step('still running after 3 minutes: giving up');
    process.exit(1);
  }, 180_000).unref();
  let broker;
  let address = process.env.RIVVEN_BOOTSTRAP;
  if (!address) {
    step('starting a local rivvend 0.0.22 broker (a fresh data dir)');
    broker = await startBroker();
    address = broker.address;
    step(`broker ready at ${address} (pid ${broker.pid})`);
  }
  const onSignal = (signal) => {
    step(`${signal}: stopping${broker ? ` the broker (pid ${broker.pid})` : ''}`);
    // Stop the broker (by pid) and remove its data dir before leaving.
    void (broker ? broker.stop() : Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (example) {
      step(`running examples/${example}.ts against ${address}\n`);
      const run = spawnSync(process.execPath, [join(root, '.examples-build', 'examples', `${example}.js`)], {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, RIVVEN_BOOTSTRAP: address },
      });
      return run.status ?? 1;
    }
    // Imported only now: `rivven-rx` is this package's dist/, built above.
    const { tour } = await import('./demo/tour.mjs');
    try {
      return (await tour({ bootstrap: address, orders })) ? 0 : 1;
    } catch (error) {
      process.stdout.write(`\nsummary: demo FAILED: ${error?.stack ?? error}\n`);
      return 1;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (broker) {
      step(`stopping the broker (pid ${broker.pid})`);
      await broker.stop();
    }
  }
}

process.exitCode = await main();
// Everything is closed: the process should now exit by itself. If something still holds it, say
// what and fail (CI catches a leak) instead of hanging.
const leakTimer = setTimeout(() => {
  const handles = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
  step(`still running 5 s after closing everything: leaked ${handles.join(', ') || 'timers'}`);
  process.exit(1);
}, 5_000);
leakTimer.unref();
