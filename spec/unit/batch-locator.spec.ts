/**
 * batch-locator.ts over a scripted log: a page shorter than asked for is not the end of the log
 * (rivvend leaves transaction markers out of a read and cuts a read by bytes), but the log's end is
 * (what lies past it after a crash recovery are stale copies its next writes take).
 */
import { of } from 'rxjs';
import type { Client } from '../../src/client/client';
import { locateRecords } from '../../src/producer/batch-locator';

interface Stored {
  offset: bigint;
  value: string;
  /** A transaction marker: occupies an offset, never returned by a read. */
  marker?: boolean;
}

/**
 * A log as rivvend serves it: markers left out, at most `maxMessages` messages per read — and at
 * most `cut` (rivvend's byte limit, as a count here).
 */
function scriptedLog(log: Stored[], logEnd: bigint, cut = Infinity): Pick<Client, 'consume$' | 'getOffsetBounds$'> & { boundsAsked: number } {
  const client = {
    boundsAsked: 0,
    consume$: (_topic: string, options: { offset?: bigint; maxMessages?: number }) => {
      const from = options.offset ?? 0n;
      const window = log.filter((r) => r.offset >= from).slice(0, Math.min(options.maxMessages ?? 100, cut));
      return of(window.filter((r) => !r.marker).map((r) => ({ topic: 't', partition: 0, offset: r.offset, key: undefined, value: Buffer.from(r.value), timestamp: 0n, headers: [] })));
    },
    getOffsetBounds$: () => {
      client.boundsAsked++;
      return of({ earliest: 0n, latest: logEnd });
    },
  };
  return client as unknown as Pick<Client, 'consume$' | 'getOffsetBounds$'> & { boundsAsked: number };
}

const ours = (n: number) => Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`ours-${i}`) }));

describe('locateRecords', () => {
  it('reads on past a page that transaction markers made short, and finds every record', async () => {
    // Our 3 records at 0, 100 and 150; other writers' records and markers in between.
    const log: Stored[] = [];
    for (let o = 0; o < 160; o++) {
      const value = o === 0 ? 'ours-0' : o === 100 ? 'ours-1' : o === 150 ? 'ours-2' : `other-${o}`;
      log.push({ offset: BigInt(o), value, marker: o % 10 === 5 });
    }
    const client = scriptedLog(log, 160n);
    await expect(locateRecords(client, { topic: 't', partition: 0, records: ours(3), firstOffset: 0n })).resolves.toEqual([0n, 100n, 150n]);
    expect(client.boundsAsked).toBe(1);
  });

  it('does not ask for the log end when the first page holds the whole batch', async () => {
    const log: Stored[] = [0, 1, 2].map((i) => ({ offset: BigInt(i), value: `ours-${i}` }));
    const client = scriptedLog(log, 3n);
    await expect(locateRecords(client, { topic: 't', partition: 0, records: ours(3), firstOffset: 0n })).resolves.toEqual([0n, 1n, 2n]);
    expect(client.boundsAsked).toBe(0);
  });

  it('reads on past a page the byte limit cut, up to the log end', async () => {
    const log: Stored[] = Array.from({ length: 60 }, (_, i) => ({ offset: BigInt(i), value: i === 0 ? 'ours-0' : i === 55 ? 'ours-1' : `other-${i}` }));
    await expect(locateRecords(scriptedLog(log, 60n, 20), { topic: 't', partition: 0, records: ours(2), firstOffset: 0n })).resolves.toEqual([0n, 55n]);
  });

  it('stops at the log end: a stale copy past it (after a crash recovery) is not taken for the record', async () => {
    // ours-1 is not below the end (20); a stale copy sits at 25, past it, beyond a short page.
    const log: Stored[] = [{ offset: 0n, value: 'ours-0' }, ...Array.from({ length: 19 }, (_, i) => ({ offset: BigInt(i + 1), value: `other-${i}` })), { offset: 25n, value: 'ours-1' }];
    const client = scriptedLog(log, 20n, 20);
    await expect(locateRecords(client, { topic: 't', partition: 0, records: ours(2), firstOffset: 0n })).resolves.toEqual([0n]);
  });
});
