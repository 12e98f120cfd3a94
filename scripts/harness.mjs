#!/usr/bin/env node
// The Rust interop harness (interop/): the real rivvend 0.0.22 broker, golden vectors and the Rust
// peer for benchmarks, all built from the Rust crate registry.
//
//   node scripts/harness.mjs build     build it (release) unless RIVVEN_BOOTSTRAP points at a broker
//   node scripts/harness.mjs path      print the binary's path
//   node scripts/harness.mjs vectors   regenerate spec/vectors/ from the Rust crates
//   node scripts/harness.mjs registry [--port 8081]
//                                      run the real rivven-schema 0.0.22 registry on 127.0.0.1 (in memory)
//
// The build goes to a directory outside the clone (RIVVEN_RX_CARGO_TARGET_DIR, default
// ~/.cache/rivven-rx/cargo-target) so fresh clones on the same machine reuse it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const interopDir = join(root, 'interop');
export const targetDir = process.env.RIVVEN_RX_CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rivven-rx', 'cargo-target');
export const binaryPath = join(targetDir, 'release', 'rivven-rx-interop');
// Cargo keys its fingerprints on the crate's path: building from each clone's own interop/ would
// recompile the harness crate (~3 min) for every fresh clone. So the crate is mirrored to one fixed
// directory beside the target dir and built there; files whose bytes did not change keep their
// mtime, so an unchanged crate is not rebuilt.
const buildDir = join(dirname(targetDir), 'interop-src');

/** Make `to` hold exactly the files of `from` (skipping target/), touching only what differs. */
function mirror(from, to) {
  mkdirSync(to, { recursive: true });
  const wanted = new Set();
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name === 'target') continue;
    wanted.add(entry.name);
    const source = join(from, entry.name);
    const dest = join(to, entry.name);
    if (entry.isDirectory()) {
      if (existsSync(dest) && !statSync(dest).isDirectory()) rmSync(dest, { force: true });
      mirror(source, dest);
    } else if (entry.isFile()) {
      const bytes = readFileSync(source);
      if (!existsSync(dest) || !bytes.equals(readFileSync(dest))) writeFileSync(dest, bytes);
    }
  }
  for (const entry of readdirSync(to, { withFileTypes: true })) {
    if (!wanted.has(entry.name)) rmSync(join(to, entry.name), { recursive: true, force: true });
  }
}

function log(message) {
  process.stderr.write(`[harness] ${message}\n`);
}

function cargoAvailable() {
  const probe = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
  return probe.status === 0;
}

export function build() {
  if (process.env.RIVVEN_BOOTSTRAP) {
    log(`RIVVEN_BOOTSTRAP=${process.env.RIVVEN_BOOTSTRAP}: using that broker, not building one`);
    return Promise.resolve(0);
  }
  if (!cargoAvailable()) {
    process.stderr.write(
      'rivven-rx tests need a real Rivven broker: install Rust (https://rustup.rs, so `cargo` is on PATH) to build rivvend 0.0.22 automatically, or set RIVVEN_BOOTSTRAP=host:port to use a broker you run yourself.\n',
    );
    return Promise.resolve(1);
  }
  const fresh = !existsSync(binaryPath);
  if (fresh) {
    log('building the real rivvend 0.0.22 broker and test harness from the Rust crate registry');
    log(`into ${targetDir} (reused by later runs). The first build compiles ~380 crates and`);
    log('takes 20-40 minutes on 2 cores; progress is printed below.');
  } else {
    log(`checking the harness build in ${targetDir} (up to date: a few seconds)`);
  }
  mirror(interopDir, buildDir);
  return new Promise((resolvePromise) => {
    const started = Date.now();
    const child = spawn('cargo', ['build', '--release', '--locked', '--color', 'never'], {
      cwd: buildDir,
      env: { ...process.env, CARGO_TARGET_DIR: targetDir, CARGO_TERM_PROGRESS_WHEN: 'never' },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let compiled = 0;
    let last = '';
    let tail = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 60) tail = tail.slice(-60);
        const match = /^\s*Compiling (\S+ v\S+)/.exec(line);
        if (match) {
          compiled++;
          last = match[1];
          if (compiled % 10 === 1) log(`compiling crate ${compiled}: ${last}`);
        } else if (/^\s*(Downloaded|Finished|warning: unused)/.test(line) || /^error/.test(line)) {
          if (!/^\s*Downloaded/.test(line) || compiled === 0) log(line.trim());
        }
      }
    });
    // A heartbeat so a long compile of one crate never looks like a hang.
    const heartbeat = setInterval(() => {
      const minutes = ((Date.now() - started) / 60000).toFixed(1);
      log(`still building (${minutes} min, ${compiled} crates compiled, last: ${last || 'fetching'})`);
    }, 30000);
    child.on('close', (code) => {
      clearInterval(heartbeat);
      if (code !== 0) {
        process.stderr.write(`${tail.join('\n')}\n`);
        log(`cargo build failed (exit ${code}); the output above says why`);
      } else if (fresh || compiled > 0) {
        log(`harness ready after ${((Date.now() - started) / 60000).toFixed(1)} min: ${binaryPath}`);
      }
      resolvePromise(code ?? 1);
    });
  });
}

async function vectors() {
  const code = await build();
  if (code !== 0) return code;
  const out = join(root, 'spec', 'vectors');
  const result = spawnSync(binaryPath, ['vectors', '--out', out], { stdio: 'inherit' });
  if (result.status === 0) log(`vectors written to ${out}`);
  return result.status ?? 1;
}

/** The real schema registry in the foreground, for local development (`npm run schema-registry`). */
async function registry(args) {
  const code = await build();
  if (code !== 0) return code;
  const port = args.includes('--port') ? args : ['--port', '8081', ...args];
  const result = spawnSync(binaryPath, ['schema-registry', ...port], { stdio: 'inherit' });
  return result.status ?? 1;
}

const command = process.argv[2];
const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  let code;
  if (command === 'build') code = await build();
  else if (command === 'path') {
    process.stdout.write(`${binaryPath}\n`);
    code = 0;
  } else if (command === 'vectors') code = await vectors();
  else if (command === 'registry') code = await registry(process.argv.slice(3));
  else {
    process.stderr.write('usage: node scripts/harness.mjs build|path|vectors|registry [--port N]\n');
    code = 2;
  }
  process.exitCode = code;
}
