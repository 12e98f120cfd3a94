/**
 * A producer process shut down by SIGINT the way docs/producer.md shows ("Shutting down"): the
 * signal ends the source, the records in flight get their outcomes, then `close()`. Prints one line
 * per outcome on stdout: `ack <value> <partition>@<offset>`, `unknown <value>`, `not-sent <value>`,
 * `failed <value> <code>`. Run by producer-day-two.spec.ts: `node shutdown-worker.js <broker> <topic>`.
 */
import { catchError, fromEvent, interval, map, mergeMap, of, take, takeUntil } from 'rxjs';
import { ClosedError, RivvenError, UnknownOutcomeError } from '../../src/errors.js';
import { Producer } from '../../src/producer/producer.js';

const [bootstrap, topic] = process.argv.slice(2);
const producer = Producer.create({ bootstrapServers: bootstrap!, clientId: 'shutdown-worker' });
const shutdown$ = fromEvent(process, 'SIGINT').pipe(take(1));
const out: string[] = [];
const print = (line: string) => {
  out.push(line);
  if (out.length >= 50) flushOut();
};
const flushOut = () => {
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  out.length = 0;
};
const printer = setInterval(flushOut, 20);

let n = 0;
interval(1)
  .pipe(
    takeUntil(shutdown$),
    map(() => `r${n++}`),
    mergeMap((value) =>
      producer.send$({ topic: topic!, value }).pipe(
        map((result) => `ack ${value} ${result.partition}@${result.offset}`),
        catchError((error: unknown) =>
          of(
            error instanceof UnknownOutcomeError
              ? `unknown ${value}`
              : error instanceof ClosedError
                ? `not-sent ${value}`
                : `failed ${value} ${error instanceof RivvenError ? error.code : String(error)}`,
          ),
        ),
      ),
    ),
  )
  .subscribe({
    next: print,
    error: (error: unknown) => {
      process.stderr.write(`pipeline failed: ${String(error)}\n`);
      process.exitCode = 1;
    },
    complete: () => {
      void producer.close({ timeoutMs: 5_000 }).then(() => {
        clearInterval(printer);
        flushOut();
      });
    },
  });
