/**
 * Bounds on what one response may make the decoder allocate. A frame is at most 10 MiB, but a
 * hostile or broken broker can pack millions of tiny elements into it (5 million empty headers
 * cost ~800 MB of JavaScript objects and seconds of event-loop time). Every list, map and header
 * is charged against these budgets *before* it is allocated; a response over a budget is a
 * `ProtocolError` naming the limit. Pure: numbers in, numbers out.
 */
import { ConfigError } from '../errors.js';

/** The `responseLimits` connection option: bounds on what one broker reply may make the decoder allocate. */
export interface ResponseLimits {
  /** Most headers on one record. Default 1,000. */
  maxHeadersPerRecord?: number;
  /** Most headers in one response, all records together. Default 100,000. */
  maxHeadersPerResponse?: number;
  /** Longest header key, bytes (UTF-8). Default 16,384. */
  maxHeaderKeyBytes?: number;
  /** Longest header value, bytes. Default 1,048,576. */
  maxHeaderValueBytes?: number;
  /**
   * Most list and map entries in one response, nested lists included (records count, headers
   * have their own budget). Default 150,000 — a `Messages` response holds at most 100,000 records.
   */
  maxItemsPerResponse?: number;
}

/** Response limits with every field set. */
export type ResolvedResponseLimits = Readonly<Required<ResponseLimits>>;

/** The default response limits. */
export const DEFAULT_RESPONSE_LIMITS: ResolvedResponseLimits = Object.freeze({
  maxHeadersPerRecord: 1_000,
  maxHeadersPerResponse: 100_000,
  maxHeaderKeyBytes: 16_384,
  maxHeaderValueBytes: 1_048_576,
  maxItemsPerResponse: 150_000,
});

const KEYS = Object.keys(DEFAULT_RESPONSE_LIMITS) as (keyof ResponseLimits)[];
/** Nothing in a 10 MiB frame can need more than this; larger values are surely a mistake. */
const MAX_LIMIT = 10 * 1024 * 1024;

/** Apply defaults and validate (ConfigError naming the option); `option` prefixes the names. */
export function resolveResponseLimits(limits: ResponseLimits | undefined, option = 'responseLimits'): ResolvedResponseLimits {
  if (limits === undefined) return DEFAULT_RESPONSE_LIMITS;
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) {
    throw new ConfigError(option, `expected an object of limits (${KEYS.join(', ')}), got ${String(limits)}`);
  }
  for (const key of Object.keys(limits)) {
    if (!(KEYS as string[]).includes(key)) {
      throw new ConfigError(`${option}.${key}`, `unknown limit; the limits are ${KEYS.join(', ')}`);
    }
  }
  const resolved = { ...DEFAULT_RESPONSE_LIMITS };
  for (const key of KEYS) {
    const value = limits[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
      throw new ConfigError(`${option}.${key}`, `expected an integer in 1..${MAX_LIMIT}, got ${String(value)}`);
    }
    resolved[key] = value;
  }
  return Object.freeze(resolved);
}
