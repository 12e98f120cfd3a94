/**
 * Kafka-compatible murmur2 (seed 0x9747b28c), as `rivven_core::hash`: a keyed record lands on the
 * same partition whichever Rivven client (Rust, Python, TypeScript) sent it.
 */
import { ConfigError } from '../errors.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 hash of `key` (seed 0x9747b28c), as an unsigned 32-bit integer. */
export function murmur2(key: Uint8Array): number {
  const length = key.length;
  let h = (SEED ^ length) >>> 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length - whole;
  if (tail >= 3) h ^= key[whole + 2]! << 16;
  if (tail >= 2) h ^= key[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= key[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}

/** `murmur2_partition`: clear the sign bit, then modulo — Kafka's `toPositive(murmur2(key)) % n`. */
export function murmur2Partition(key: Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 0xffff_ffff) {
    throw new ConfigError('partitionCount', `must be a positive u32, got ${partitionCount}`);
  }
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}
