/**
 * The native compression addons (lz4-napi, snappy, @mongodb-js/zstd) are optionalDependencies:
 * importing rivven-rx loads none of them, each loads when a compressed value first needs it, and
 * one that is missing or broken is a CompressionError naming its npm package — never a crash at
 * import, and never a framed value passed on still compressed (issue 24 §4).
 *
 * Jest's module registry stands in for node_modules here (src/protocol/addon-require.ts is Jest's
 * `require` under Jest, see jest.config.mjs): `jest.doMock` records a load, or makes one fail.
 * scripts/check-optional-install.mjs checks the same on the built package, really installed with
 * `npm install --omit=optional`.
 */
import { compressValue } from '../../src/protocol/compression.js';

type ProtocolModule = typeof import('../../src/protocol/index.js');
type ErrorsModule = typeof import('../../src/errors.js');

const ADDONS = ['lz4-napi', 'snappy', '@mongodb-js/zstd'] as const;
const text = Buffer.from('rivven-rx compresses values one by one inside the batch. '.repeat(40));

/** A fresh copy of the sources, loaded after the mocks set up by `mock` are in place. */
async function freshImport(mock: () => void): Promise<{ protocol: ProtocolModule; errors: ErrorsModule; rootKeys: string[] }> {
  jest.resetModules();
  mock();
  const root = await import('../../src/index.js');
  const protocol = await import('../../src/protocol/index.js');
  const errors = await import('../../src/errors.js');
  return { protocol, errors, rootKeys: Object.keys(root) };
}

/** `doMock` an addon with a factory that throws what Node throws for a package that is not installed. */
function mockMissing(name: string): void {
  jest.doMock(name, () => {
    throw Object.assign(new Error(`Cannot find module '${name}'\nRequire stack:\n- somewhere`), { code: 'MODULE_NOT_FOUND' });
  });
}

afterEach(() => {
  for (const name of ADDONS) jest.dontMock(name);
  jest.resetModules();
});

describe('native compression addons load on first need', () => {
  it('importing rivven-rx and rivven-rx/protocol loads none of them; compressing with one loads that one only', async () => {
    const loaded: string[] = [];
    const { protocol, rootKeys } = await freshImport(() => {
      for (const name of ADDONS) {
        jest.doMock(name, () => {
          loaded.push(name);
          return jest.requireActual<object>(name);
        });
      }
    });
    expect(rootKeys).toContain('Rivven');
    expect(loaded).toEqual([]);
    // Uncompressed framing, and values under minSize, need no addon.
    const framed = protocol.compressValueSync(text, { algorithm: 'none' })!;
    expect((await protocol.decompressValue(framed)).equals(text)).toBe(true);
    protocol.compressValueSync(Buffer.from('short'), { algorithm: 'lz4' });
    expect(loaded).toEqual([]);
    // The recorder works: the first lz4 value loads lz4-napi, and nothing else.
    const lz4 = protocol.compressValueSync(text, { algorithm: 'lz4' })!;
    expect(loaded).toEqual(['lz4-napi']);
    expect((await protocol.decompressValue(lz4)).equals(text)).toBe(true);
    expect(loaded).toEqual(['lz4-napi']); // loaded once
  });

  it('a missing addon is a CompressionError naming its package, for producing and for consuming; the others keep working', async () => {
    const lz4Framed = await compressValue(text, { algorithm: 'lz4', checksum: true });
    const { protocol, errors } = await freshImport(() => mockMissing('lz4-napi'));
    const expectMissing = (error: unknown) => {
      expect(error).toBeInstanceOf(errors.CompressionError);
      const typed = error as InstanceType<ErrorsModule['CompressionError']>;
      expect(typed.code).toBe('COMPRESSION');
      expect(typed.retriable).toBe(false);
      expect(typed.message).toMatch(/lz4 compression needs the npm package lz4-napi/);
      expect(typed.message).toMatch(/npm install lz4-napi/);
      expect(typed.message).not.toMatch(/Require stack/);
      expect((typed.cause as { code?: string }).code).toBe('MODULE_NOT_FOUND');
    };
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (error) {
        return error;
      }
      throw new Error('expected a throw');
    };
    const rejected = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => new Error('expected a rejection'), (error: unknown) => error);

    // Producing: a producer asking for lz4 fails when it is created, not at its first large value.
    const root = await import('../../src/index.js');
    expectMissing(thrown(() => root.Producer.create({ bootstrapServers: '127.0.0.1:1', compressionType: 'lz4' })));
    await root.Producer.create({ bootstrapServers: '127.0.0.1:1', compressionType: 'snappy' }).close();
    expectMissing(thrown(() => protocol.compressValueSync(text, { algorithm: 'lz4' })));
    expectMissing(await rejected(protocol.compressValue(text, { algorithm: 'lz4' })));
    // Consuming: every API, 'detect' included — a framed value is never handed on still compressed.
    expectMissing(await rejected(protocol.decompressValue(lz4Framed)));
    expectMissing(thrown(() => protocol.tryDecompressValueSync(lz4Framed)));
    expectMissing(await rejected(protocol.tryDecompressValue(lz4Framed)));
    for (const framing of ['detect', 'rivven-core'] as const) {
      expectMissing(await rejected(protocol.decodeValues([lz4Framed], { framing, budgetBytes: 1 << 20 })));
    }
    // What needs no lz4 still works: 'raw', plain values, the uncompressed frame, the other codecs.
    expect((await protocol.decodeValues([lz4Framed], { framing: 'raw', budgetBytes: 1 << 20 })).decoded[0]!.equals(lz4Framed)).toBe(true);
    expect((await protocol.tryDecompressValue(text)).equals(text)).toBe(true);
    for (const algorithm of ['none', 'snappy', 'zstd'] as const) {
      const framed = await protocol.compressValue(text, { algorithm });
      expect((await protocol.decompressValue(framed)).equals(text)).toBe(true);
    }
  });

  it('an addon that loads without the functions used is a CompressionError naming its package', async () => {
    const { protocol, errors } = await freshImport(() => jest.doMock('snappy', () => ({})));
    expect(() => protocol.compressValueSync(text, { algorithm: 'snappy' })).toThrow(errors.CompressionError);
    expect(() => protocol.compressValueSync(text, { algorithm: 'snappy' })).toThrow(
      /snappy compression needs the npm package snappy, which did not load \(it has no compressSync, uncompress, uncompressSync\)/,
    );
  });

  it('a missing zstd addon fails compressValueSync at once instead of deferring to compressValue', async () => {
    const { protocol, errors } = await freshImport(() => mockMissing('@mongodb-js/zstd'));
    expect(() => protocol.compressValueSync(text, { algorithm: 'zstd' })).toThrow(errors.CompressionError);
    await expect(protocol.compressValue(text, { algorithm: 'zstd' })).rejects.toThrow(/npm install @mongodb-js\/zstd/);
  });
});
