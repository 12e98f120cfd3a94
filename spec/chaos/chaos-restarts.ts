/**
 * What a broker restart of the chaos run left behind, read from the broker's own traces:
 *
 * - `classifyStop`: was the SIGTERM clean? rivvend keeps its log over a restart only when its
 *   clients disconnect within its shutdown drain and it checkpoints its WAL (DESIGN §8); its log
 *   says whether the drain timed out and whether shutdown completed, its WAL folder whether
 *   anything was left to replay.
 * - `OutputScanner`: right before each restart, what the exactly-once output topic shows both ways
 *   (read_uncommitted and read_committed), so that a record a restart hid or revealed is
 *   explained by the restart (issue §2 (b), (c)) instead of being counted as a client's lie.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '../../src/client/client.js';
import type { BrokerProcess } from '../support/broker-process.js';
import { clientLogReader } from '../support/log-reader.js';
import { seconds, TOPIC_OUT } from './chaos-judge.js';

/** The broker's log file so far ('' if it cannot be read). */
export function readBrokerLog(broker: BrokerProcess): string {
  try {
    return readFileSync(broker.logFile, 'utf8');
  } catch {
    return '';
  }
}

/** Bytes in rivvend's WAL files (a clean stop checkpoints them away). */
export function walBytes(dataDir: string): number {
  const walDir = join(dataDir, 'wal');
  if (!existsSync(walDir)) return 0;
  let bytes = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else bytes += statSync(path).size;
    }
  };
  walk(walDir);
  return bytes;
}

/** A stop is clean when the drain did not time out, shutdown completed, and no WAL is left. */
export function classifyStop(logTail: string, walLeft: number, stoppedInMs: number): { clean: boolean; detail: string } {
  const drainTimeout = /Connection drain timeout|did not stop within|rivvend shutdown:|second SIG/.test(logTail);
  const complete = /Server shutdown complete/.test(logTail);
  const clean = !drainTimeout && complete && walLeft === 0;
  const detail = `${clean ? 'clean' : 'UNCLEAN'}: stopped in ${seconds(stoppedInMs)}; ${drainTimeout ? 'drain timed out' : 'drained'}; ${complete ? 'shutdown complete' : 'no "shutdown complete"'}; WAL left ${walLeft} bytes`;
  return { clean, detail };
}

export class OutputScanner {
  /** Output positions (`p@offset`) read_committed hid right before a restart. */
  readonly hidden = new Set<string>();
  /** Output positions visible right before a restart that no transaction had reported committed. */
  readonly unreported = new Set<string>();
  /** Per output partition, where the next scan starts. */
  private readonly scannedFrom = new Map<number, bigint>();

  /** Reads the output topic's new part both ways and notes the positions above; returns the log ends. */
  async scan(client: Client, partitions: number, reportedCommitted: ReadonlyArray<readonly [number, bigint, number]>): Promise<Map<number, bigint>> {
    const ends = new Map<number, bigint>();
    const reader = clientLogReader(client);
    const reported = new Set(reportedCommitted.map(([p, o]) => `${p}@${o}`));
    for (let p = 0; p < partitions; p++) {
      const end = await reader.logEnd(TOPIC_OUT, p);
      ends.set(p, end);
      const from = this.scannedFrom.get(p) ?? 0n;
      const uncommitted: bigint[] = [];
      for (let offset = from; offset < end; ) {
        const page = await reader.fetch(TOPIC_OUT, p, offset, 'read_uncommitted', true);
        if (page.length === 0) {
          offset += 1n;
          continue;
        }
        for (const r of page) if (r.offset >= offset) uncommitted.push(r.offset);
        offset = page[page.length - 1]!.offset + 1n;
      }
      const visible = new Set<bigint>();
      for (let offset = from; offset < end; ) {
        const page = await reader.fetch(TOPIC_OUT, p, offset, 'read_committed', true);
        if (page.length === 0) {
          const next = uncommitted.find((o) => o > offset);
          if (next === undefined) break;
          offset = next;
          continue;
        }
        for (const r of page) visible.add(r.offset);
        offset = page[page.length - 1]!.offset + 1n;
      }
      let next = end;
      for (const o of uncommitted) {
        if (!visible.has(o)) this.hidden.add(`${p}@${o}`);
        // Visible but not (yet) reported committed: it may still be aborted; scan it again next time.
        else if (!reported.has(`${p}@${o}`)) {
          this.unreported.add(`${p}@${o}`);
          if (o < next) next = o;
        }
      }
      this.scannedFrom.set(p, next);
    }
    return ends;
  }
}
