/**
 * What every chaos worker process shares: one-line reports on stdout (written synchronously —
 * Node writes to a pipe synchronously on Linux, so a SIGKILL loses nothing already reported), and
 * commands on stdin, one a line. stdin is also the lifeline: when the orchestrator dies, stdin
 * reaches EOF and the worker exits, so no run leaves orphans behind.
 */
export function report(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** A short, single-line description of an error, for FAILED / F / RETRY lines. */
export function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 400);
}

/** Calls `onCommand` for each line on stdin; exits the process (code 3) when stdin ends. */
export function commands(onCommand: (command: string) => void): void {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    let at: number;
    while ((at = input.indexOf('\n')) >= 0) {
      const command = input.slice(0, at).trim();
      input = input.slice(at + 1);
      if (command) onCommand(command);
    }
  });
  process.stdin.on('end', () => process.exit(3));
}

/** Ends the process with FAILED on stderr and exit code 2: the pipeline died on its own. */
export function die(error: unknown): never {
  process.stderr.write(`FAILED ${describe(error)}\n`);
  report(`FAILED ${describe(error)}`);
  process.exit(2);
}

export function config<T>(): T {
  return JSON.parse(process.argv[2] ?? '') as T;
}

/** The producer's send <seq> goes to this topic … */
export function chaosTopicOf(topics: readonly string[], seq: number): string {
  return topics[seq % topics.length]!;
}

/** … with this key. */
export function chaosKey(seq: number, keys: number): string {
  return `k${seq % keys}`;
}
