import { ConfigError } from '../../src/errors';
import { murmur2, murmur2Partition } from '../../src/protocol/murmur2';
import { readVectorFile, type MurmurVectorFile } from '../support/vectors';

const { vectors } = readVectorFile<MurmurVectorFile>('murmur2.json');

describe('murmur2 (rivven_core::hash)', () => {
  it('has at least 200 Rust vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(200);
  });

  it('matches Kafka reference values', () => {
    expect(murmur2(Buffer.alloc(0))).toBe(275646681);
    expect(murmur2(Buffer.from('hello'))).toBe(2132663229);
    expect(murmur2(Buffer.from('kafka'))).toBe(3496464228);
  });

  it('matches every Rust hash and partition for 1, 2, 3, 7, 64 and 1000 partitions', () => {
    const mismatches: string[] = [];
    for (const v of vectors) {
      const key = Buffer.from(v.key, 'hex');
      if (murmur2(key) !== v.hash) mismatches.push(`hash(${v.key})`);
      for (const [count, partition] of Object.entries(v.partitions)) {
        if (murmur2Partition(key, Number(count)) !== partition) mismatches.push(`partition(${v.key}, ${count})`);
      }
    }
    expect(mismatches).toEqual([]);
    const counts = new Set(vectors.flatMap((v) => Object.keys(v.partitions)));
    expect([...counts].sort((a, b) => Number(a) - Number(b))).toEqual(['1', '2', '3', '7', '64', '1000']);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => murmur2Partition(Buffer.from('k'), 0)).toThrow(ConfigError);
    expect(() => murmur2Partition(Buffer.from('k'), 1.5)).toThrow(ConfigError);
  });
});
