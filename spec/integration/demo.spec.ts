/**
 * `npm run demo` (scripts/demo.mjs) runs to its summary with every check passed, as CI runs it: not
 * on a terminal (no carriage-return redraws), its own broker started and stopped by pid, the process
 * exiting by itself. Then twice in a row against one broker (the suite's), which needs its topic,
 * group and transactional names to be new each run.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { testBroker } from '../support/test-broker';

const root = join(__dirname, '..', '..');

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the demo with stdout and stderr piped; SIGKILLs it (by pid) after `timeoutMs`. */
function demo(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<DemoRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(root, 'scripts', 'demo.mjs'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const killer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The demo's own environment: not a terminal, no broker given unless the suite was pointed at one. */
function demoEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', ...extra };
  delete env.FORCE_COLOR;
  return env;
}

const summary = (orders: number) =>
  new RegExp(
    `^summary: [\\d,]+ records/s, p99 [\\d.]+ ms, rebalances [1-9]\\d*, duplicates 0, exactly-once ${orders}/${orders} \\(0 duplicated\\) — all checks passed$`,
    'm',
  );

describe('npm run demo', () => {
  it('streams 5,000 orders through a two-member group and an exactly-once step, and every check passes', async () => {
    // The suite's broker only when the suite itself was pointed at one (no cargo then); otherwise
    // the demo starts and stops its own, as `npm run demo` does.
    const own = !process.env.RIVVEN_BOOTSTRAP;
    // Up to ~35 s of it is compiling dist/ when src/ changed since the last build (the demo does
    // that first); the demo itself takes ~15-25 s on 2 busy cores.
    const run = await demo([], demoEnv(), 110_000);
    const context = `exit ${run.code} after ${run.ms} ms\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
    expect({ code: run.code, context }).toEqual({ code: 0, context });
    expect(run.stdout).toMatch(summary(5000));
    // The group: mid-way one member leaves by close(), the other takes its partitions over.
    expect(run.stdout).toMatch(/^ +[\d.]+s {2}bob leaves mid-way \([\d,]+ of 5,000 processed\)/m);
    expect(run.stdout).toMatch(/^ +[\d.]+s {2}alice owns all 6 partitions, /m);
    expect(run.stdout).toMatch(/^ {2}duplicates {4}0 \(orders the group processed more than once, by order id\); 0 missing$/m);
    // Exactly-once: the failure on purpose aborted one transaction, and the output still holds each order once.
    expect(run.stdout).toMatch(/worker \d: transaction aborted, consumer rewound to the committed offsets/);
    expect(run.stdout).toMatch(/^ +[\d.]+s {2}read back read_committed: 5,000 records, 5,000 distinct orders /m);
    expect(run.stdout).not.toMatch(/FAILED/);
    // Not a terminal: a status line a second, never a carriage-return redraw or an escape sequence.
    expect(run.stdout).not.toMatch(/[\r\x1b]/);
    expect(run.stdout.match(/^ +[\d.]+s {2}sent [\d,]+\/5,000 /gm)?.length).toBeGreaterThanOrEqual(1);
    // Nothing leaked (the demo says so and fails when its process does not exit by itself), and the
    // library logged no warning or error.
    expect(run.stderr).not.toMatch(/leaked|giving up/);
    expect(run.stderr).not.toMatch(/^rivven-rx (WARN|ERROR)/m);
    if (own) {
      const pid = Number(/stopping the broker \(pid (\d+)\)/.exec(run.stderr)?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(false);
    }
  }, 120_000);

  it('runs twice in a row against the same broker: new topics, groups and transactional ids each time', async () => {
    const env = demoEnv({ RIVVEN_BOOTSTRAP: testBroker().address });
    for (let i = 0; i < 2; i++) {
      const run = await demo(['--orders', '1000'], env, 60_000);
      const context = `run ${i + 1}: exit ${run.code} after ${run.ms} ms\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
      expect({ code: run.code, context }).toEqual({ code: 0, context });
      expect(run.stdout).toMatch(summary(1000));
    }
  }, 120_000);
});
