/** Loading the golden vectors written by the Rust harness (`spec/vectors/*.json`). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const vectorsDir = join(__dirname, '..', 'vectors');

export interface MessageVector {
  name: string;
  variant: string;
  index: number;
  correlationId: number;
  value: unknown;
  postcard: string;
  wire: string;
}

export interface MessageVectorFile {
  crate: string;
  vectors: MessageVector[];
}

export interface MurmurVectorFile {
  vectors: { key: string; hash: number; partitions: Record<string, number> }[];
}

export interface CompressionVector {
  name: string;
  input: string;
  algorithm: 'none' | 'lz4' | 'zstd' | 'snappy';
  checksum: boolean;
  minSize: number;
  ratioThreshold: number;
  method: 'compress' | 'compress_with';
  adaptive: boolean;
  output: string;
}

export interface CompressionVectorFile {
  inputs: Record<string, string>;
  vectors: CompressionVector[];
}

export function readVectorFile<T>(file: string, dir = vectorsDir): T {
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
}
