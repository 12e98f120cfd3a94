/**
 * The committed golden vectors are what the Rust crates produce today: regenerate them with the
 * harness and compare. (Rust writes HashMaps of 2+ entries in random order; those vectors are
 * compared by decoded value.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRequest, decodeResponse } from '../../src/protocol/message-codec';
import { REQUEST_VARIANTS } from '../../src/protocol/request-schema';
import { RESPONSE_VARIANTS } from '../../src/protocol/response-schema';
import { requireHarness } from '../support/harness-binary';
import { fromSerdeEnum, hasUnorderedMap } from '../support/serde-json';
import { readVectorFile, type MessageVectorFile } from '../support/vectors';

describe('golden vectors are current', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivven-rx-vectors-'));
    const run = spawnSync(requireHarness(), ['vectors', '--out', dir], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`harness vectors failed: ${run.stderr}`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['murmur2.json', 'compression.json'])('%s is identical to a fresh run', (file) => {
    expect(readVectorFile(file, dir)).toEqual(readVectorFile(file));
  });

  it.each([
    ['requests.json', REQUEST_VARIANTS, decodeRequest],
    ['responses.json', RESPONSE_VARIANTS, decodeResponse],
  ] as const)('%s matches a fresh run', (file, variants, decode) => {
    const fresh = readVectorFile<MessageVectorFile>(file, dir);
    const committed = readVectorFile<MessageVectorFile>(file);
    expect(fresh.crate).toBe(committed.crate);
    expect(fresh.vectors.map((v) => v.name)).toEqual(committed.vectors.map((v) => v.name));
    fresh.vectors.forEach((vector, i) => {
      const old = committed.vectors[i]!;
      if (hasUnorderedMap(fromSerdeEnum(variants, vector.value))) {
        expect(decode(Buffer.from(vector.postcard, 'hex'))).toEqual(decode(Buffer.from(old.postcard, 'hex')));
        expect(vector.wire.length).toBe(old.wire.length);
      } else {
        expect(vector).toEqual(old);
      }
    });
  });
});
