/**
 * Every program in examples/ runs against the test broker, compiled exactly as a user would run it
 * (importing the built package by its name, `rivven-rx`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { testBroker } from '../support/test-broker';

const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.ts'));

describe('examples', () => {
  beforeAll(() => {
    for (const project of ['tsconfig.build.json', 'tsconfig.examples.json']) {
      execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'pipe' });
    }
  }, 120_000);

  it('include the quick start, the admin tour and exactly-once processing', () => {
    expect(examples).toEqual(expect.arrayContaining(['quickstart.ts', 'admin.ts', 'exactly-once.ts']));
  });

  it.each(examples)('%s runs to completion against a real broker', (file) => {
    const run = spawnSync(process.execPath, [join(root, '.examples-build', 'examples', file.replace(/\.ts$/, '.js'))], {
      cwd: root,
      env: { ...process.env, RIVVEN_BOOTSTRAP: testBroker().address },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // The client's own warnings (a server the example cuts, say) are expected; nothing else is.
    expect(run.stderr.split('\n').filter((line) => line !== '' && !/^rivven-rx WARN /.test(line))).toEqual([]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^done$/m);
    if (file === 'exactly-once.ts') {
      // The demo's transform fails once: the transaction aborts, retry() recovers, and still exactly-once.
      expect(run.stdout).toMatch(/^aborted, consumer rewound: /m);
      expect(run.stdout).toMatch(/^read_committed reader: 300 conversions of 300 distinct payments$/m);
    }
    if (file === 'parallel.ts') {
      // Concurrent, in order per customer, everything committed, the malformed order dead-lettered with its metadata.
      expect(run.stdout).toMatch(/^priced 1999 orders in \d+ ms \(\d+\/s\), 0 out of order per customer, 1 dead-lettered$/m);
      expect(run.stdout).toMatch(/^committed offset: 2000$/m);
      expect(run.stdout).toMatch(/^dead letter: orders-\d+\/0@1234 key=customer-34 value='not json' SyntaxError: .+ after 3 attempts$/m);
    }
  });
});
