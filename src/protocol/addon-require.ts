/**
 * The `require` that loads the optional native compression addons (lz4-napi, snappy,
 * @mongodb-js/zstd) from ES module code, when a compressed value first needs one. Only
 * compression.ts uses it.
 *
 * Jest runs the sources as CommonJS, where `import.meta` does not exist: jest.config.mjs maps this
 * file to spec/support/addon-require.ts, which exports Jest's own `require` (so specs can mock an
 * addon as missing).
 */
import { createRequire } from 'node:module';

export const requireAddon: NodeJS.Require = createRequire(import.meta.url);
