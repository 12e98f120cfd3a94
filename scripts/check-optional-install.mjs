#!/usr/bin/env node
// The native compression addons (lz4-napi, snappy, @mongodb-js/zstd) are optionalDependencies
// (issue 24 §4). This checks, on the built package (run `npm run build` first), that:
//   1. importing dist/index.js and dist/protocol/index.js loads none of them (no module of theirs
//      in the require cache, no native binary dlopen'ed), while a compressed value still loads its one;
//   2. the packed package installed with `npm install --omit=optional` (no addon at all) imports,
//      frames and reads uncompressed values, and asking for lz4, snappy or zstd is a
//      CompressionError naming the npm package to install; and its type declarations compile
//      without the addons (tsc with skipLibCheck off: no declaration may name an addon).
// Used by .ci/run; takes a few seconds (npm installs rxjs, from its cache when it can).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = ['lz4-napi', 'snappy', '@mongodb-js/zstd'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function step(message) {
  process.stdout.write(`[check-optional-install] ${message}\n`);
}

function runNode(cwd, source) {
  return execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

// What a child process loaded: modules in the require cache (CommonJS packages imported from ESM
// go through it too) and native binaries opened by process.dlopen.
const RECORD_LOADS = `
import { createRequire } from 'node:module';
const opened = [];
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) { opened.push(filename); return dlopen.call(this, module, filename, ...rest); };
const cache = createRequire(import.meta.url).cache;
const addonFiles = () => [...Object.keys(cache), ...opened].filter((file) => ${JSON.stringify(ADDONS)}.some((name) => file.includes('/node_modules/' + name + '/')) || file.endsWith('.node'));
`;

if (!existsSync(join(root, 'dist', 'index.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` first.\n');
  process.exit(2);
}

step('1. importing the built entry points loads no compression addon');
const loads = JSON.parse(
  runNode(
    root,
    `${RECORD_LOADS}
const api = await import('./dist/index.js');
const protocol = await import('./dist/protocol/index.js');
if (typeof api.Rivven !== 'function') throw new Error('dist/index.js exports no Rivven');
const afterImport = addonFiles();
protocol.compressValueSync(Buffer.alloc(4096, 'rivven '), { algorithm: 'lz4' });
console.log(JSON.stringify({ afterImport, afterLz4: addonFiles() }));`,
  ),
);
if (loads.afterImport.length > 0) throw new Error(`importing rivven-rx loaded native addons: ${loads.afterImport.join(', ')}`);
// The probe sees a load when there is one (else the check above proves nothing).
if (!loads.afterLz4.some((file) => file.includes('/node_modules/lz4-napi/'))) {
  throw new Error(`compressing with lz4 did not load lz4-napi, by this probe: ${JSON.stringify(loads.afterLz4)}`);
}
if (loads.afterLz4.some((file) => file.includes('/node_modules/snappy/') || file.includes('/node_modules/@mongodb-js/zstd/'))) {
  throw new Error(`compressing with lz4 loaded other addons: ${loads.afterLz4.join(', ')}`);
}

const work = mkdtempSync(join(tmpdir(), 'rivven-rx-optional-'));
try {
  step('2. npm pack, then npm install --omit=optional in a temporary project');
  const packed = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tarball = join(work, packed[0].filename);
  const app = join(work, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'optional-install-check', private: true, type: 'module' }, null, 2));
  execFileSync(npm, ['install', '--omit=optional', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', tarball], {
    cwd: app,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const installed = readdirSync(join(app, 'node_modules'));
  const present = ADDONS.filter((name) => existsSync(join(app, 'node_modules', name)));
  if (present.length > 0) throw new Error(`--omit=optional still installed ${present.join(', ')}`);
  if (!installed.includes('rxjs') || !installed.includes('rivven-rx')) throw new Error(`expected rivven-rx and rxjs, found ${installed.join(', ')}`);

  step('   importing rivven-rx and rivven-rx/protocol, uncompressed values, and the typed error for each codec');
  const report = runNode(
    app,
    `import { CompressionError, Rivven } from 'rivven-rx';
import * as protocol from 'rivven-rx/protocol';
if (typeof Rivven !== 'function') throw new Error('rivven-rx exports no Rivven');
const value = Buffer.alloc(4096, 'rivven ');
// The uncompressed frame ('none'), both framings, and the consumer's decoder.
for (const uncompressedFraming of ['checked', 'rivven-core']) {
  const framed = await protocol.compressValue(value, { algorithm: 'none', uncompressedFraming });
  if (!(await protocol.decompressValue(framed)).equals(value)) throw new Error('none: ' + uncompressedFraming + ' does not round-trip');
}
const checked = protocol.compressValueSync(value, { algorithm: 'none' });
const { decoded } = await protocol.decodeValues([checked, value], { framing: 'detect', budgetBytes: 1 << 20 });
if (!decoded[0].equals(value) || !decoded[1].equals(value)) throw new Error('decodeValues altered an uncompressed value');
// A request frame, through the codecs and back.
const frame = protocol.encodeRequestFrame({ type: 'Publish', topic: 'orders', partition: 0, value }, 7);
const body = protocol.parseFrameBody(frame.subarray(protocol.LENGTH_PREFIX_SIZE));
const request = protocol.decodeRequest(body.payload);
if (body.correlationId !== 7 || request.type !== 'Publish' || !Buffer.from(request.value).equals(value)) throw new Error('a request frame does not round-trip');
// Every codec: the typed error, naming the package to install.
const packages = { lz4: 'lz4-napi', snappy: 'snappy', zstd: '@mongodb-js/zstd' };
for (const [algorithm, name] of Object.entries(packages)) {
  let error;
  try {
    await protocol.compressValue(value, { algorithm });
  } catch (e) {
    error = e;
  }
  if (!(error instanceof CompressionError)) throw new Error(algorithm + ': expected a CompressionError, got ' + String(error));
  if (error.code !== 'COMPRESSION' || !error.message.includes('npm install ' + name)) throw new Error(algorithm + ': ' + error.message);
}
console.log('ok');`,
  );
  if (report.trim() !== 'ok') throw new Error(`unexpected output: ${report}`);

  step('   type-checking a program against the installed declarations (skipLibCheck off)');
  writeFileSync(
    join(app, 'check.ts'),
    `import { CompressionError, Rivven } from 'rivven-rx';
import { compressValue, type CompressionOptions } from 'rivven-rx/protocol';
const options: CompressionOptions = { algorithm: 'none' };
export const framed: Promise<Buffer> = compressValue(Buffer.from('x'), options);
export const error: CompressionError | undefined = undefined;
export const root: typeof Rivven = Rivven;
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['check.ts'],
    }),
  );
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] });
  step('ok: no addon loads at import; without the optional addons the uncompressed path works, the types compile, and lz4/snappy/zstd are CompressionErrors naming their packages');
} finally {
  rmSync(work, { recursive: true, force: true });
}
