/**
 * src/protocol/addon-require.ts for Jest (jest.config.mjs maps it here): the sources run as
 * CommonJS under Jest, where `import.meta.url` does not exist. Jest's `require` honours
 * `jest.doMock`, so a spec can make an addon fail to load.
 */
export const requireAddon: NodeJS.Require = require;
