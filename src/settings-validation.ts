/**
 * The one validator behind every component's options: unknown keys, wrong types and out-of-range
 * values are a `ConfigError` naming the option (and, for a key that does not exist, the closest
 * one that does). A typo must never be silently ignored: `{ requestTimeout: 3000 }` where
 * `requestTimeoutMs` is meant would otherwise leave the default in force without a word.
 */
import { ConfigError } from './errors.js';

/** setTimeout's limit: a longer delay fires at once, so it is refused. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The known name a mistyped one most likely meant, if any is close enough: a missing `Ms` suffix
 * (`requestTimeout` → `requestTimeoutMs`), another case, or a few letters off.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    if (candidate.toLowerCase() === `${name}ms`.toLowerCase() || candidate.toLowerCase() === name.toLowerCase()) return candidate;
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  const allowed = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** A value as an error message shows it: strings quoted (and cut), objects by kind, never their content. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** A name as other clients spell it, compared without case and separators: `group.id`, `group_id`, `GroupID` → `groupid`. */
function normalised(name: string): string {
  return name.replace(/[._\-\s]/g, '').toLowerCase();
}

/**
 * Names users bring from other clients — KafkaJS, the Java client and librdkafka (`group.id`,
 * `linger.ms`: their dotted names are also matched by spelling, see otherClientName), franz-go —
 * whose spelling is not close to ours, with the option they mean here and, where the value differs
 * too, how to say it. A hint is given only when the component has that option.
 */
const OTHER_CLIENT_NAMES: Readonly<Record<string, { name: string; hint?: string }>> = {
  brokers: { name: 'bootstrapServers', hint: "a list of 'host:port'" },
  brokerlist: { name: 'bootstrapServers' },
  metadatabrokerlist: { name: 'bootstrapServers' },
  seedbrokers: { name: 'bootstrapServers' },
  ssl: { name: 'tls' },
  sasl: { name: 'auth', hint: "{ mechanism: 'scram-sha-256' | 'plain', username, password }" },
  logcreator: { name: 'logger', hint: 'any object with debug/info/warn/error(fields, message)' },
  idempotent: { name: 'enableIdempotence' },
  idempotence: { name: 'enableIdempotence' },
  compression: { name: 'compressionType', hint: "'none' | 'lz4' | 'snappy' | 'zstd'" },
  compressioncodec: { name: 'compressionType', hint: "'none' | 'lz4' | 'snappy' | 'zstd'" },
  maxinflightrequestsperconnection: { name: 'maxInFlightRequests' },
  transactiontimeout: { name: 'transactionTimeoutMs' },
  frombeginning: { name: 'autoOffsetReset', hint: "autoOffsetReset: 'earliest' reads a partition without a committed offset from the beginning, 'latest' from its end" },
  autocommit: { name: 'enableAutoCommit' },
  readuncommitted: { name: 'isolationLevel', hint: "isolationLevel: 'read_uncommitted' (default) or 'read_committed'" },
  group: { name: 'groupId' },
  consumergroup: { name: 'groupId' },
  topic: { name: 'topics', hint: "a list: topics: ['orders']" },
  partitionassigners: { name: 'assignor' },
  partitionassignmentstrategy: { name: 'assignor' },
};

/**
 * The option of ours that a name from another client means, with how to write it: a well-known
 * name (OTHER_CLIENT_NAMES), or ours spelled another way (`group.id`, `linger.ms`, `session_timeout`).
 */
export function otherClientName(name: string, known: readonly string[]): { name: string; hint?: string } | undefined {
  const key = normalised(name);
  const listed = OTHER_CLIENT_NAMES[key];
  if (listed !== undefined && Object.prototype.hasOwnProperty.call(OTHER_CLIENT_NAMES, key) && known.includes(listed.name)) return listed;
  const spelled = known.find((k) => normalised(k) === key || normalised(k) === `${key}ms`);
  return spelled === undefined ? undefined : { name: spelled };
}

/**
 * Refuse keys `options` has that `known` does not list, naming the option meant when one is close
 * enough or the name is another client's for one of ours (`idempotent`, `fromBeginning`,
 * `brokers`, `group.id`, …). `component` names where the options go (for the message). Keys whose
 * value is `undefined` are refused too: a typo with an undefined value is still a typo.
 */
export function rejectUnknownKeys(component: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const alias = otherClientName(key, known);
    const guess = alias?.name ?? closestName(key, known);
    throw new ConfigError(
      key,
      `${component} has no option '${key}'${guess === undefined ? '' : `; did you mean '${guess}'?`}` +
        `${alias?.hint === undefined ? '' : ` (${alias.hint})`} ` +
        `(its options: ${[...known].sort().join(', ')})`,
    );
  }
}

/** Check that `options` is a plain object (or undefined, read as `{}`). */
export function optionsObject<T extends object>(component: string, options: T | undefined): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError('options', `${component} expects an options object, got ${describeValue(options)}`);
  }
  return options;
}

/** A duration in ms: a finite number in min..2³¹−1 (setTimeout's limit). */
export function durationMs(option: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new ConfigError(option, `expected milliseconds in ${min}..${MAX_TIMER_MS}, got ${describeValue(value)}`);
  }
  return value;
}

/** An integer in min..max. */
export function integerIn(option: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in ${min}..${max}`;
    throw new ConfigError(option, `expected ${range}, got ${describeValue(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(option, `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}
