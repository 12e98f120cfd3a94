#!/usr/bin/env node
// The chaos run: `npm run chaos -- --minutes N` (see spec/chaos/chaos-run.ts for what it does and
// judges; `--help` lists the options). Needs the Rust harness (`npm run harness`; not built here).
//
// The run and its worker processes are TypeScript (spec/chaos/, over src/): they are transpiled
// file by file into a temporary directory (no type check: `npm run typecheck` covers them) and run
// with node from there, so the run always exercises the current sources without `npm run build`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { binaryPath } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entries = ['chaos-run.ts', 'chaos-producer.ts', 'chaos-group-worker.ts', 'chaos-eos-worker.ts'].map((f) => join(root, 'spec', 'chaos', f));
// Relative imports, with the `.js` extension (src/) or without it (spec/support/).
const RELATIVE_IMPORT = /((?:from\s+|import\s*\(\s*|import\s+)['"])(\.{1,2}\/[^'"]+?)(\.js)?(['"])/g;

function transpile(outDir) {
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(root, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  const pending = [...entries];
  const done = new Set();
  while (pending.length > 0) {
    const file = pending.pop();
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(RELATIVE_IMPORT)) pending.push(resolve(dirname(file), `${match[2]}.ts`));
    const { outputText: transpiled } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    // Node's ES modules need the extension: add it where the source left it out.
    const outputText = transpiled.replace(RELATIVE_IMPORT, (_all, head, path, _js, quote) => `${head}${path}.js${quote}`);
    const out = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
}

if (!process.env.RIVVEN_BOOTSTRAP && !existsSync(binaryPath)) {
  process.stderr.write(`The chaos run needs the real broker: run \`npm run harness\` first (${binaryPath} is missing).\n`);
  process.exit(2);
}
const outDir = mkdtempSync(join(tmpdir(), 'rivven-rx-chaos-build-'));
let code = 1;
try {
  transpile(outDir);
  const child = spawn(process.execPath, [join(outDir, 'spec', 'chaos', 'chaos-run.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((resolvePromise) => child.on('exit', (c, signal) => resolvePromise(c ?? (signal ? 1 : 0))));
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
process.exit(code);
