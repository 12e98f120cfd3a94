/**
 * The README is the front door and `docs/` the rest of the house: every TypeScript block (a
 * ```ts fence) in README.md and in every docs/*.md page is a whole program that compiles against
 * the built package (imported by its name, `rivven-rx`, as a user would) and runs to completion
 * against real brokers. The addresses, paths and secrets a reader sees in the pages are swapped
 * for the test's real ones, nothing else is touched, so a block cannot drift from the API or from
 * what it claims to print. Blocks run one at a time against the same broker, README.md first (its
 * Quick start creates the `orders` topic the other blocks use), then the docs pages in file-name
 * order. Every relative link between these pages must resolve, anchors included.
 *
 * Substitutions (literal in a page → what the test provides):
 *   127.0.0.1:9092        the test broker
 *   127.0.0.1:9093        an address nothing listens on (failover examples)
 *   broker:9092           a broker with SCRAM users (alice, password in RIVVEN_PASSWORD)
 *   broker:9093           the same users behind rivvend's TLS
 *   /etc/rivven/*.pem     generated CA / client certificate / key
 *   http://127.0.0.1:8081 the real rivven-schema registry
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { freePort, startBroker, startSchemaRegistry, type BrokerProcess, type HarnessProcess } from '../support/broker-process';
import { generateTestCerts, type TestCerts } from '../support/test-certs';
import { testBroker } from '../support/test-broker';

const root = join(__dirname, '..', '..');
const buildDir = join(root, '.readme-build');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const PASSWORD = 'Readme-pw-1!';

/** The pages whose blocks run: README.md first, then docs/*.md by name (paths from the root). */
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

interface Block {
  /** The page, relative to the repository root (`README.md`, `docs/producer.md`). */
  file: string;
  /** 1-based line of the opening fence, to find the block in its page. */
  line: number;
  /** The heading the block stands under. */
  section: string;
  source: string;
}

function pageBlocks(file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{1,6} /.test(line)) section = line.replace(/^#+ /, '');
    if (line.trim() !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    blocks.push({ file, line: start + 1, section, source: body.join('\n') });
  }
  return blocks;
}

const blocks = pages.flatMap(pageBlocks);
/** The generated file's name: `README-line-12`, `docs-producer-line-3`. */
const fileOf = (block: Block) => `${block.file.replace(/\.md$/, '').replace(/\//g, '-')}-line-${block.line}`;
const blockByFile = new Map(blocks.map((b) => [fileOf(b), b]));

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces → `-`. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced || !/^#{1,6} /.test(line)) continue;
    const base = slug(line.replace(/^#+ /, ''));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

let certs: TestCerts;
let scram: BrokerProcess;
let tls: BrokerProcess;
let registry: HarnessProcess;
let deadAddress: string;

function substitute(source: string): string {
  const swaps: [string, string][] = [
    ['127.0.0.1:9092', testBroker().address],
    ['127.0.0.1:9093', deadAddress],
    ['broker:9092', scram.address],
    // rivvend's TLS certificate is issued for 127.0.0.1 / localhost.
    ['broker:9093', tls.address],
    ['/etc/rivven/ca.pem', certs.caCert],
    ['/etc/rivven/client.pem', certs.clientCert],
    ['/etc/rivven/client-key.pem', certs.clientKey],
    ['http://127.0.0.1:8081', `http://${registry.address}`],
  ];
  let out = source;
  for (const [from, to] of swaps) out = out.split(from).join(to);
  return out;
}

function run(file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(buildDir, 'out', `${file}.js`)], {
      cwd: root,
      env: { ...process.env, RIVVEN_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  certs = generateTestCerts();
  const users = ['--user', `alice:${PASSWORD}:admin`];
  [scram, tls, registry] = await Promise.all([
    startBroker({ harnessArgs: users }),
    startBroker({ harnessArgs: [...users, '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey] }),
    startSchemaRegistry(),
  ]);
  deadAddress = `127.0.0.1:${await freePort()}`;
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  for (const block of blocks) writeFileSync(join(buildDir, `${fileOf(block)}.ts`), `${substitute(block.source)}\n`);
  writeFileSync(
    join(buildDir, 'tsconfig.json'),
    JSON.stringify({ extends: '../tsconfig.examples.json', compilerOptions: { outDir: './out', rootDir: '.' }, include: ['./*.ts'] }),
  );
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  try {
    execFileSync(process.execPath, [tsc, '-p', join(buildDir, 'tsconfig.json')], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    // Name the pages' lines, not the generated files.
    const output = String((error as { stdout?: string }).stdout ?? error).replace(/([\w-]+-line-\d+)\.ts\((\d+)/g, (m, name: string, at: string) => {
      const block = blockByFile.get(name);
      return block ? `${block.file}:${block.line + Number(at)}` : m;
    });
    throw new Error(`a README or docs/ block does not compile:\n${output}`);
  }
}, 180_000);

afterAll(async () => {
  await Promise.all([scram, tls, registry].map((p) => p?.stop()));
  certs?.remove();
  rmSync(buildDir, { recursive: true, force: true });
});

describe('README and docs/ code blocks', () => {
  it('there are blocks for the quick start, producer, consumer, resilience, transactions and security', () => {
    const sections = new Set(blocks.map((b) => b.section));
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const wanted of ['Quick start', 'Producer', 'Consumer', 'Security']) expect([...sections].some((s) => s.startsWith(wanted))).toBe(true);
    // The README shows one example per component; the docs pages keep theirs.
    expect(blocks.filter((b) => b.file === 'README.md').length).toBeGreaterThanOrEqual(5);
    expect(blocks.filter((b) => b.file.startsWith('docs/')).length).toBeGreaterThanOrEqual(8);
  });

  it('every relative link of README.md and docs/ resolves, anchors included', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? join(root, page) : normalize(join(root, dirname(page), path));
        if (!existsSync(file)) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor !== undefined && (!file.endsWith('.md') || !anchorsOf(file).has(anchor))) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line} (${b.section})`, b] as const))('%s compiles and runs to completion', async (_name, block) => {
    const result = await run(fileOf(block));
    if (result.status !== 0) throw new Error(`${block.file}:${block.line} exited ${result.status}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    // The client's own warnings may appear (they are what a reader would see); nothing else may.
    expect(result.stderr.split('\n').filter((line) => line !== '' && !/^rivven-rx WARN /.test(line))).toEqual([]);
    // Each block prints what it claims; a block that prints nothing proves nothing.
    expect(result.stdout.trim()).not.toBe('');
  }, 90_000);
});
