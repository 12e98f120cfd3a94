import { randomBytes } from 'node:crypto';

/**
 * This module instance's part of every name: the process, the time it was loaded and a random
 * tag. Jest loads the module afresh for every test file, so two files run by one worker, two
 * workers, and two runs against the same long-lived broker (RIVVEN_BOOTSTRAP) never share a name.
 */
const run = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
let seq = 0;

/**
 * A topic, group, transactional or client id no other test, process or run uses:
 * `${prefix}-${pid}-${time}-${random}-${n}`, within the broker's topic-name alphabet
 * (letters, digits, `-`) as long as `prefix` is.
 */
export function unique(prefix: string): string {
  return `${prefix}-${run}-${seq++}`;
}
