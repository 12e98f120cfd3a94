/**
 * The variant lists are read from rivven-protocol 0.0.22's own source (messages.rs in the cargo
 * registry), not from our code: our tables must match them name for name, in order, and every
 * variant must have golden vectors.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REQUEST_VARIANTS } from '../../src/protocol/request-schema';
import { RESPONSE_VARIANTS } from '../../src/protocol/response-schema';
import { readVectorFile, type MessageVectorFile } from '../support/vectors';

function findMessagesRs(): string {
  const cargoHome = process.env.CARGO_HOME ?? join(homedir(), '.cargo');
  const registry = join(cargoHome, 'registry', 'src');
  const candidates = existsSync(registry)
    ? readdirSync(registry).map((index) => join(registry, index, 'rivven-protocol-0.0.22', 'src', 'messages.rs'))
    : [];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      `rivven-protocol 0.0.22 sources not found under ${registry}: run \`cargo fetch\` in interop/ (npm test's harness build does this)`,
    );
  }
  return found;
}

/** Variant names of `pub enum <name> { ... }`, in declaration order. */
export function rustEnumVariants(source: string, enumName: string): string[] {
  const start = source.indexOf(`pub enum ${enumName} {`);
  if (start < 0) throw new Error(`pub enum ${enumName} not found in messages.rs`);
  const end = source.indexOf('\n}\n', start);
  const body = source.slice(start, end);
  const names: string[] = [];
  // Variants sit at exactly four spaces of indentation; their fields at eight.
  for (const match of body.matchAll(/^ {4}([A-Z][A-Za-z0-9]*)\s*(?:[{(,]|$)/gm)) names.push(match[1]!);
  return names;
}

const source = readFileSync(findMessagesRs(), 'utf8');

describe.each([
  ['Request', REQUEST_VARIANTS, 'requests.json', 40],
  ['Response', RESPONSE_VARIANTS, 'responses.json', 42],
] as const)('%s variants', (enumName, table, vectorFile, expectedCount) => {
  const rustNames = rustEnumVariants(source, enumName);

  it(`has the ${expectedCount} variants of rivven-protocol 0.0.22`, () => {
    expect(rustNames).toHaveLength(expectedCount);
  });

  it('matches our table name for name, in declaration order (the order is the wire index)', () => {
    expect(table.map(([n]) => n)).toEqual(rustNames);
  });

  it('has at least one golden vector for every variant', () => {
    const covered = new Set(readVectorFile<MessageVectorFile>(vectorFile).vectors.map((v) => v.variant));
    expect(rustNames.filter((n) => !covered.has(n))).toEqual([]);
  });
});
