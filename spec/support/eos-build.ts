/**
 * Build a TypeScript entry point (and the sources it imports) into runnable ES modules in a temp
 * dir, for child processes of the tests. Transpiles file by file (`ts.transpileModule`: no type
 * check, so it takes well under a second; `npm run typecheck` checks the same files).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..');
const RELATIVE_IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)\.js'/g;

export interface BuiltScript {
  /** The entry point's compiled .js file. */
  entry: string;
  cleanup(): void;
}

export function buildScript(entryTs: string): BuiltScript {
  const outDir = mkdtempSync(join(tmpdir(), 'rivven-rx-script-'));
  // The output resolves `rxjs` & co. from the project's node_modules and is an ES module package.
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(ROOT, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  const pending = [resolve(entryTs)];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(RELATIVE_IMPORT)) pending.push(resolve(dirname(file), `${match[1]!}.ts`));
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const out = join(outDir, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return {
    entry: join(outDir, relative(ROOT, resolve(entryTs))).replace(/\.ts$/, '.js'),
    cleanup: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
