/**
 * The chaos run's worker processes: each one a node process running a transpiled worker script
 * (chaos-producer.js, chaos-group-worker.js, chaos-eos-worker.js) with its config as argument,
 * reporting one line per event on stdout (chaos-io.ts) and taking commands on stdin — which is
 * also its lifeline: a worker exits when the run dies. Started, told, SIGKILLed and counted here;
 * what their lines mean, and whether an exit was a death, is the run's business (chaos-run.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type WorkerKind = 'producer' | 'group' | 'eos';

export interface Worker {
  kind: WorkerKind;
  name: string;
  child: ChildProcess;
  pid: number;
  /** Set before we SIGKILL it or ask it to close: its end is ours, not its own. */
  endedByUs: 'kill' | 'close' | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
  isLeader: boolean;
  lastFailure: string | undefined;
  /** Extra state (EOS slot index). */
  slot: number;
}

export interface WorkerEvents {
  /** A line the worker printed. */
  line(worker: Worker, line: string): void;
  /** The worker's process ended (it is no longer in `all`). */
  exited(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void;
}

export class WorkerProcesses {
  /** The workers whose process has not ended. */
  readonly all = new Set<Worker>();

  constructor(
    /** Each worker's stderr and event lines go to `<name>.stderr.log` / `<name>.events.log` here. */
    private readonly runDir: string,
    /** Where the transpiled worker scripts are. */
    private readonly scriptDir: string,
    private readonly events: WorkerEvents,
  ) {}

  spawn(kind: WorkerKind, name: string, script: string, config: unknown, slot = 0): Worker {
    const errFd = openSync(join(this.runDir, `${name}.stderr.log`), 'a');
    const child = spawn(process.execPath, [join(this.scriptDir, script), JSON.stringify(config)], { stdio: ['pipe', 'pipe', errFd] });
    closeSync(errFd);
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    const worker: Worker = {
      kind,
      name,
      child,
      pid: child.pid,
      endedByUs: undefined,
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      done: false,
      isLeader: false,
      lastFailure: undefined,
      slot,
    };
    child.stdin?.on('error', () => undefined);
    this.all.add(worker);
    // Every report but the high-volume ones (A, P, C) goes to <name>.events.log, for diagnosis.
    const eventsLog = join(this.runDir, `${name}.events.log`);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!/^[APC] /.test(line)) appendFileSync(eventsLog, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
      this.events.line(worker, line);
    });
    void worker.exited.then(({ code, signal }) => {
      worker.done = true;
      this.all.delete(worker);
      this.events.exited(worker, code, signal);
    });
    return worker;
  }

  /** A command on the worker's stdin (ignored once it ended). */
  send(worker: Worker, command: string): void {
    if (!worker.done) worker.child.stdin?.write(`${command}\n`);
  }

  /** SIGKILL, counted as ours; resolves when the process is gone. */
  async kill(worker: Worker): Promise<void> {
    if (worker.done) return;
    worker.endedByUs = 'kill';
    worker.child.kill('SIGKILL');
    await worker.exited;
  }

  /** Workers of this kind that run and that we have not started to end. */
  live(kind: WorkerKind): Worker[] {
    return [...this.all].filter((w) => w.kind === kind && !w.done && w.endedByUs === undefined);
  }
}
