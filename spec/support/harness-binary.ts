/** Where the Rust interop harness binary lives (built by `node scripts/harness.mjs build`). */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const harnessTargetDir =
  process.env.RIVVEN_RX_CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rivven-rx', 'cargo-target');
export const harnessBinary = join(harnessTargetDir, 'release', 'rivven-rx-interop');

export function requireHarness(): string {
  if (!existsSync(harnessBinary)) {
    throw new Error(
      `The Rust interop harness is not built (${harnessBinary} is missing): run \`node scripts/harness.mjs build\` (needs cargo), or set RIVVEN_BOOTSTRAP=host:port to use a running broker.`,
    );
  }
  return harnessBinary;
}
