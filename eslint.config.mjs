// Lint (`npm run lint`): the rules this codebase already follows, so the habits hold without anyone
// enforcing them by hand. typescript-eslint's type-checked recommended set, less the rules the tree
// does not follow today (listed below with why), plus a few the code already keeps.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Layers of src/ (DESIGN.md §2, top first): each imports only from the layers above it, never from a
// lower one — `import type` and `export … from` included. The consumer and the producer are one level
// and know nothing of each other; nothing imports the root object (src/rivven.ts) or the barrel
// (src/index.ts). Folders under src/ are one level deep, so an import's relative path names its layer.
const LAYERS = [
  { layer: 'the base layer (errors, settings, observability)', files: ['src/*.ts'], ignores: ['src/rivven.ts', 'src/index.ts'], from: './', below: ['protocol', 'transport', 'client', 'producer', 'consumer', 'operators'] },
  { layer: 'the base layer (errors, settings, observability)', files: ['src/observability/**/*.ts'], from: '../', below: ['protocol', 'transport', 'client', 'producer', 'consumer', 'operators'] },
  { layer: 'src/protocol/', files: ['src/protocol/**/*.ts'], from: '../', below: ['transport', 'client', 'producer', 'consumer', 'operators'] },
  { layer: 'src/transport/', files: ['src/transport/**/*.ts'], from: '../', below: ['client', 'producer', 'consumer', 'operators'] },
  { layer: 'src/client/', files: ['src/client/**/*.ts'], from: '../', below: ['producer', 'consumer', 'operators'] },
  { layer: 'src/producer/', files: ['src/producer/**/*.ts'], from: '../', below: ['consumer', 'operators'] },
  { layer: 'src/consumer/', files: ['src/consumer/**/*.ts'], from: '../', below: ['producer', 'operators'] },
  { layer: 'src/operators/', files: ['src/operators/**/*.ts'], from: '../', below: [] },
  { layer: 'src/rivven.ts', files: ['src/rivven.ts'], from: './', below: [] },
];
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const layerRules = LAYERS.map(({ layer, files, ignores, from, below }) => ({
  files,
  ...(ignores === undefined ? {} : { ignores }),
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...(below.length === 0 ? [] : [{
          regex: `^${escape(from)}(?:${below.join('|')})(?:/|$)`,
          message: `${layer} must not import from a layer below it (src/${below.join('/, src/')}/): layers import only upwards (DESIGN.md §2, eslint.config.mjs).`,
        }]),
        ...(layer === 'src/rivven.ts' ? [] : [{
          regex: `^${escape(from)}rivven(?:\\.js)?$`,
          message: 'Nothing imports the root object src/rivven.ts: it is the top of the house (DESIGN.md §2).',
        }]),
        {
          regex: `^${escape(from)}index(?:\\.js)?$`,
          message: 'Inside src/, import from the defining file, not from the public barrel src/index.ts.',
        },
      ],
    }],
  },
}));

export default defineConfig(
  { ignores: ['dist/', 'build/', 'coverage/', 'interop/', '.examples-build/', '.readme-build/', '.scratch/', 'bench/results/'] },
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Type information for TypeScript files from the tsconfig.json that includes them.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Kept everywhere today: no `any` (src's public API above all), nothing unused (a leading `_`
      // marks what is unused on purpose), no promise left floating or passed where a callback's
      // result is ignored (recommendedTypeChecked), no case falling through.
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'no-fallthrough': 'error',

      // Not followed today, so not enforced:
      // async functions without await are common in specs (an async callback that may throw);
      '@typescript-eslint/require-await': 'off',
      // defensive `!`/`as` that the current types make redundant;
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `any` flowing from JSON.parse, expect.any(…) and dynamic protocol tables;
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // numbers, bigints and unions in template strings and String(…) of values being reported;
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // methods passed as callbacks where `this` is not used;
      '@typescript-eslint/unbound-method': 'off',
      // a test's fake socket rejects with what the socket gave;
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // one `let` assigned once in src/producer/producer.ts.
      'prefer-const': 'off',
    },
  },
  // Plain JavaScript (scripts, bench, configs): no type information, so no type-checked rules.
  { files: ['**/*.mjs', '**/*.cjs', '**/*.js'], extends: [tseslint.configs.disableTypeChecked] },
  ...layerRules,
);
