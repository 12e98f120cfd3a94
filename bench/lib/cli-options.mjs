// Command-line options of the bench scripts: `--name N`, a positive integer, or the fallback.

/** `--name N` from `argv` as a positive integer; `fallback` when absent. Throws on anything else. */
export function positiveIntegerOption(argv, name, fallback) {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}
