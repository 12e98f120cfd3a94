/**
 * The chaos run's command line (`npm run chaos -- --minutes N ...`): node's own argument parser,
 * every value checked, an unknown option refused with the usage.
 */
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm run chaos -- [--minutes N] [--seed S] [--rate R] [--group-workers N] [--eos-workers N]
       [--restart-every S] [--member-kill-every S] [--eos-kill-every S] [--lifetime MIN-MAX] [--episodes] [--keep]`;

export interface Options {
  minutes: number;
  seed: number;
  rate: number;
  /** Group members (at least 3). */
  groupWorkers: number;
  /** Exactly-once processes (at least 2). */
  eosWorkers: number;
  restartEveryS: number;
  memberKillEveryS: number;
  eosKillEveryS: number;
  /** Every proxied connection ends after a random lifetime in this range. */
  lifetime: { minMs: number; maxMs: number };
  /** Random latency / reset / blackhole episodes on top of the lifetimes. */
  episodes: boolean;
  /** Keep the run's folder. */
  keep: boolean;
}

const NUMBERS = ['minutes', 'seed', 'rate', 'group-workers', 'eos-workers', 'restart-every', 'member-kill-every', 'eos-kill-every'] as const;

export function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...Object.fromEntries(NUMBERS.map((name) => [name, { type: 'string' as const }])),
        lifetime: { type: 'string' },
        episodes: { type: 'boolean' },
        keep: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${USAGE}`);
  }
  if (parsed.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (name: (typeof NUMBERS)[number], otherwise: number): number => {
    const given = parsed[name];
    if (given === undefined) return otherwise;
    const value = Number(given);
    if (!(value > 0)) throw new Error(`--${name} needs a positive number\n${USAGE}`);
    return value;
  };
  let lifetime = { minMs: 1_000, maxMs: 4_000 };
  if (typeof parsed.lifetime === 'string') {
    const m = /^(\d+)-(\d+)$/.exec(parsed.lifetime);
    if (!m || Number(m[1]) > Number(m[2])) throw new Error(`--lifetime needs MIN-MAX in ms, e.g. 1000-4000\n${USAGE}`);
    lifetime = { minMs: Number(m[1]), maxMs: Number(m[2]) };
  }
  return {
    minutes: number('minutes', 2),
    seed: number('seed', Date.now() % 1_000_000),
    rate: number('rate', 300),
    groupWorkers: Math.max(3, Math.floor(number('group-workers', 3))),
    eosWorkers: Math.max(2, Math.floor(number('eos-workers', 2))),
    restartEveryS: number('restart-every', 60),
    memberKillEveryS: number('member-kill-every', 45),
    eosKillEveryS: number('eos-kill-every', 60),
    lifetime,
    episodes: parsed.episodes === true,
    keep: parsed.keep === true,
  };
}
