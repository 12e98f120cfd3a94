// Starting and stopping a long-lived harness process for the bench (`rivven-rx-interop broker`,
// `… sink`): spawned with stdin kept open as a lifeline (if this process dies, the child sees EOF
// and exits), ready once it prints `READY <address>`, stopped by its pid (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const targetDir = process.env.RIVVEN_RX_CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rivven-rx', 'cargo-target');
export const harness = process.env.RIVVEN_RX_HARNESS ?? join(targetDir, 'release', 'rivven-rx-interop');

/**
 * Run `harness …args --exit-on-stdin-eof` until it is READY. `stderr` is the child's stderr: a file
 * descriptor, or 'pipe' to keep its last 4,000 characters for failure messages; `where()` adds to
 * those messages where to look or what to try. Resolves with the address and `stop()`, which waits
 * for the exit, SIGKILLing after `killAfterMs`.
 */
export async function startHarnessProcess(name, args, { stderr, where, killAfterMs }) {
  if (!existsSync(harness)) throw new Error(`${harness} is missing: run \`node scripts/harness.mjs build\``);
  const child = spawn(harness, [...args, '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', stderr] });
  let tail = '';
  child.stderr?.on('data', (chunk) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  });
  const describe = () => (child.stderr ? `${where()}; stderr: ${tail}` : where());
  const address = await new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${name} not READY in 60 s; ${describe()}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk.toString('utf8');
      const ready = /^READY (\S+)/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolvePromise(ready[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}) before READY; ${describe()}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    }
    child.stdin.destroy();
    child.stdout.destroy();
    child.stderr?.destroy();
  };
  return { address, pid: child.pid, stop };
}
