#!/usr/bin/env node
// `npm run demo`: build what is needed, start a real local rivvend 0.0.22 broker (unless
// RIVVEN_BOOTSTRAP names one), run examples/quickstart.ts against it, stop the broker.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPath, build } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const example = process.argv[2] ?? 'quickstart';

function step(message) {
  process.stderr.write(`[demo] ${message}\n`);
}

function compile() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.examples.json']) {
    const run = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
    if (run.status !== 0) throw new Error(`tsc -p ${project} failed`);
  }
}

/** Start the harness broker on a free port; resolves with its address and a stop function. */
function startBroker() {
  const dataDir = mkdtempSync(join(tmpdir(), 'rivven-rx-demo-'));
  const child = spawn(binaryPath, ['broker', '--port', '0', '--data-dir', dataDir, '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const ready = /^READY (\S+)/m.exec(seen);
      if (ready) resolvePromise({ address: ready[1], stop });
    });
    child.once('exit', (code) => reject(new Error(`broker exited with code ${code} before it was ready`)));
  });
}

async function main() {
  if ((await build()) !== 0) return 1;
  step('compiling the library and the examples');
  compile();
  let broker;
  let address = process.env.RIVVEN_BOOTSTRAP;
  if (!address) {
    step('starting a local rivvend 0.0.22 broker');
    broker = await startBroker();
    address = broker.address;
    step(`broker ready at ${address}`);
  }
  try {
    step(`running examples/${example}.ts against ${address}\n`);
    const run = spawnSync(process.execPath, [join(root, '.examples-build', 'examples', `${example}.js`)], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, RIVVEN_BOOTSTRAP: address },
    });
    return run.status ?? 1;
  } finally {
    if (broker) {
      step('stopping the broker');
      await broker.stop();
    }
  }
}

process.exitCode = await main();
