// The Python `rivven` 0.0.22 client (PyPI) side, where it installs: bench/python_peer.py in a venv
// under ~/.cache/rivven-rx/python-venv (created on first use). rivven 0.0.22 ships CPython 3.12
// wheels only (manylinux x86_64/aarch64, macOS arm64), so the venv needs a python3.12.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const venv = process.env.RIVVEN_BENCH_VENV ?? join(homedir(), '.cache', 'rivven-rx', 'python-venv');
const venvPython = join(venv, 'bin', 'python');
const peer = join(dirname(fileURLToPath(import.meta.url)), '..', 'python_peer.py');
// The peer runs from its own folder so a stray `rivven/` directory in the caller's cwd cannot shadow the package.
const peerCwd = dirname(peer);

/** The Python binding has no consumer that follows a producer in one process cheaply; e2e is TS/Rust only. */
export const supportsEndToEnd = false;

function probe(python) {
  const check = spawnSync(python, ['-c', 'import rivven._rivven as r; print(r.version() if callable(getattr(r, "version", None)) else "?")'], {
    cwd: peerCwd,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return check.status === 0 ? check.stdout.trim() : undefined;
}

/** Whether the Python client can run; installs it into the venv once if a python3.12 exists. */
export async function available() {
  if (existsSync(venvPython)) {
    const version = probe(venvPython);
    if (version) return { ok: true, description: `rivven ${version} (PyPI) on ${spawnSync(venvPython, ['--version'], { encoding: 'utf8' }).stdout.trim()}, venv ${venv}` };
  }
  const errors = [];
  for (const python of ['python3.12', 'python3']) {
    const version = spawnSync(python, ['--version'], { encoding: 'utf8' });
    if (version.status !== 0) {
      errors.push(`${python}: not found`);
      continue;
    }
    rmSync(venv, { recursive: true, force: true });
    const made = spawnSync(python, ['-m', 'venv', venv], { encoding: 'utf8', timeout: 120_000 });
    if (made.status !== 0) {
      errors.push(`${python} -m venv: ${(made.stderr || made.stdout).trim().split('\n').pop()}`);
      continue;
    }
    const pip = spawnSync(join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--index-url', 'https://pypi.org/simple', 'rivven==0.0.22'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (pip.status !== 0) {
      const lines = `${pip.stdout}\n${pip.stderr}`.trim().split('\n').filter((l) => /ERROR|error/.test(l));
      errors.push(`${version.stdout.trim() || python}: pip install rivven==0.0.22 failed: ${lines.join(' ') || `exit ${pip.status}`}`);
      rmSync(venv, { recursive: true, force: true });
      continue;
    }
    const installed = probe(venvPython);
    if (installed) return { ok: true, description: `rivven ${installed} (PyPI) on ${version.stdout.trim()}, venv ${venv} (installed now)` };
    errors.push(`${python}: installed but \`import rivven._rivven\` failed`);
  }
  return { ok: false, reason: `the Python rivven 0.0.22 client did not install (its wheels are CPython 3.12 only): ${errors.join('; ')}` };
}

function runPeer(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(venvPython, [peer, ...args], { cwd: peerCwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000);
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`python_peer.py ${args[0]} exited ${code ?? signal}: ${stderr.trim().slice(-2000)}`));
      try {
        resolvePromise(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`python_peer.py printed no JSON: ${stdout} ${stderr}`));
      }
    });
  });
}

export async function produceThroughput(address, topic, { records, valueSize }) {
  const result = await runPeer(['produce', address, topic, String(records), String(valueSize)]);
  if (result.acked !== records) throw new Error(`Python: ${result.acked} of ${records} acknowledged`);
  return result;
}

export function produceLatency(address, topic, { records, valueSize, warmup = 20 }) {
  return runPeer(['latency', address, topic, String(records), String(valueSize), String(warmup)]);
}

export function consume(address, topic, { partitions, records }) {
  return runPeer(['consume', address, topic, String(partitions), String(records)]);
}

export function endToEnd() {
  throw new Error('end-to-end is not run for Python');
}
