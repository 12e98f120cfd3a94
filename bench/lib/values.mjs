// Record values shared by every side of the benchmark.

/** Value of record `index`; must match `bench_value` in interop/src/bench.rs and bench/python_peer.py. */
export function benchValue(index, size) {
  const bytes = Buffer.alloc(size);
  const prefix = Buffer.from(`${index}:`, 'ascii');
  prefix.copy(bytes, 0, 0, Math.min(prefix.length, size));
  for (let i = 0; prefix.length + i < size; i++) bytes[prefix.length + i] = 97 + ((index + i * 7) % 26);
  return bytes;
}

/** A value whose first 8 bytes carry a send time in µs (u64 LE), then 'x' (as `timed_value` in bench_consume.rs). */
export function timedValue(micros, size) {
  const value = Buffer.alloc(Math.max(size, 8), 0x78);
  value.writeBigUInt64LE(BigInt(Math.round(micros)), 0);
  return value;
}

export function readStamp(value) {
  return value.length >= 8 ? Number(value.readBigUInt64LE(0)) : undefined;
}
