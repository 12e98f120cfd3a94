/**
 * `ArgumentCheck`: how every typed operation checks what a caller passed, before anything is
 * encoded or sent. A user's type mistake (`offset: 0` for `0n`, a fractional partition, a number
 * where bytes go) is a `ConfigError` (not retriable) naming the operation and the argument, what
 * was given and what is expected — not a retriable `ProtocolError` from the encoder.
 *
 * Only what the wire format itself demands (types, integer ranges, the protocol's name and list
 * limits) is checked here; what the broker decides (topic name characters, partition counts,
 * partitions that exist) is left to the broker and its typed answer. The checks of one subject's
 * arguments (a record, a consume, a group member, a producer) live with that subject's operations.
 */
import { ConfigError } from '../errors.js';
import { closestName } from '../settings-validation.js';

const U16_MAX = 0xffff;
const U32_MAX = 0xffff_ffff;
const I32_MAX = 0x7fff_ffff;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
/** rivven-protocol MAX_NAME_LEN (bytes of UTF-8) and MAX_LIST_LEN. */
const MAX_NAME_BYTES = 256;
const MAX_LIST_ITEMS = 10_000;

/** How a given value is shown in an error: its value and type, short. */
function shown(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (a string)`;
  if (typeof value === 'number') return `${value} (a number)`;
  if (typeof value === 'boolean') return `${value} (a boolean)`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'function') return 'a function';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** One operation's argument checks; every error names `<operation> <argument>`. */
export class ArgumentCheck {
  constructor(private readonly operation: string) {}

  fail(argument: string, expected: string, value: unknown, advice = ''): never {
    throw new ConfigError(argument, `${this.operation} expects ${expected}, got ${shown(value)}${advice}; nothing was sent`);
  }

  object<T>(argument: string, value: T): T {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(argument, 'an object', value);
    return value;
  }

  array<T>(argument: string, value: readonly T[], options: { min?: number } = {}): readonly T[] {
    if (!Array.isArray(value)) this.fail(argument, 'an array', value);
    const min = options.min ?? 0;
    if (value.length < min || value.length > MAX_LIST_ITEMS) {
      this.fail(argument, `an array of ${min} to ${MAX_LIST_ITEMS} items (the protocol's limit)`, value);
    }
    return value;
  }

  /** A topic, group, transaction or member name: a string of at most 256 UTF-8 bytes. */
  name(argument: string, value: string, options: { allowEmpty?: boolean } = {}): string {
    if (typeof value !== 'string') this.fail(argument, 'a string', value);
    if (!options.allowEmpty && value.length === 0) this.fail(argument, 'a non-empty string', value);
    if (Buffer.byteLength(value, 'utf8') > MAX_NAME_BYTES) this.fail(argument, `a string of at most ${MAX_NAME_BYTES} bytes (UTF-8)`, value);
    return value;
  }

  /** A list of topic names, each checked as a name. */
  names(argument: string, values: readonly string[]): readonly string[] {
    this.array(argument, values).forEach((value, i) => this.name(`${argument}[${i}]`, value));
    return values;
  }

  string(argument: string, value: string): string {
    if (typeof value !== 'string') this.fail(argument, 'a string', value);
    return value;
  }

  optionalString(argument: string, value: string | undefined): string | undefined {
    return value === undefined ? undefined : this.string(argument, value);
  }

  /** A non-negative integer of at most `max` (a JavaScript number). */
  integer(argument: string, value: number, min: number, max: number, what = 'an integer'): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const advice = typeof value === 'bigint' ? `; write ${value} without the n` : '';
      this.fail(argument, `${what} in ${min}..${max}`, value, advice);
    }
    return value;
  }

  partition(argument: string, value: number): number {
    return this.integer(argument, value, 0, U32_MAX, 'a partition number (an integer)');
  }

  optionalPartition(argument: string, value: number | undefined): number | undefined {
    return value === undefined ? undefined : this.partition(argument, value);
  }

  u32(argument: string, value: number, min = 0): number {
    return this.integer(argument, value, min, U32_MAX);
  }

  u16(argument: string, value: number): number {
    return this.integer(argument, value, 0, U16_MAX);
  }

  /** A producer sequence number: an i32 the broker compares, never negative. */
  sequence(argument: string, value: number): number {
    return this.integer(argument, value, 0, I32_MAX, 'a sequence number (an integer)');
  }

  /** Milliseconds as a JavaScript number (for durations the wire carries as u32/u64). */
  durationMs(argument: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
    return this.integer(argument, value, 0, max, 'milliseconds (an integer)');
  }

  optionalDurationMs(argument: string, value: number | undefined, max?: number): number | undefined {
    return value === undefined ? undefined : this.durationMs(argument, value, max);
  }

  /** A u64 offset, id or epoch: a bigint. A number is refused with a hint, not converted. */
  u64(argument: string, value: bigint, what = 'a bigint'): bigint {
    if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
      const advice = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? `; write ${value}n` : '';
      this.fail(argument, `${what} in 0n..${U64_MAX}n`, value, advice);
    }
    return value;
  }

  optionalU64(argument: string, value: bigint | undefined, what?: string): bigint | undefined {
    return value === undefined ? undefined : this.u64(argument, value, what);
  }

  i64(argument: string, value: bigint, what = 'a bigint'): bigint {
    if (typeof value !== 'bigint' || value < I64_MIN || value > I64_MAX) {
      const advice = typeof value === 'number' && Number.isSafeInteger(value) ? `; write ${value}n` : '';
      this.fail(argument, `${what} in ${I64_MIN}n..${I64_MAX}n`, value, advice);
    }
    return value;
  }

  /** A key or value: bytes (Buffer/Uint8Array) or a string (sent as UTF-8). */
  bytes<T>(argument: string, value: T): T {
    if (!(value instanceof Uint8Array) && typeof value !== 'string') {
      const advice = value !== null && typeof value === 'object' && !Array.isArray(value) ? '; serialise it first (e.g. JSON.stringify)' : '';
      this.fail(argument, 'bytes (a Buffer or Uint8Array) or a string', value, advice);
    }
    return value;
  }

  optionalBytes<T>(argument: string, value: T | undefined): T | undefined {
    return value === undefined ? undefined : this.bytes(argument, value);
  }

  oneOf<T extends string>(argument: string, value: T, allowed: readonly T[]): T {
    if (!allowed.includes(value)) this.fail(argument, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
    return value;
  }

  optionalOneOf<T extends string>(argument: string, value: T | undefined, allowed: readonly T[]): T | undefined {
    return value === undefined ? undefined : this.oneOf(argument, value, allowed);
  }

  /** Rejects option names the operation does not know (a typo would otherwise be ignored). */
  knownKeys(argument: string, value: object, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const closest = closestName(key, known);
        throw new ConfigError(
          `${argument}.${key}`,
          `${this.operation} has no option '${key}'${closest === undefined ? '' : ` (did you mean '${closest}'?)`}; known: ${known.join(', ')}; nothing was sent`,
        );
      }
    }
  }
}
