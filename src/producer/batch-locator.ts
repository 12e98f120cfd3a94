/**
 * Where a batch's records really are: read the partition's log back from the offset the broker
 * named and find each record by its bytes. An acknowledgement is made of these offsets, never of
 * `baseOffset + i`.
 *
 * Why a reply is not enough on rivvend 0.0.22 (`rivvend` `handler/produce.rs`,
 * `handle_publish_batch` / `handle_idempotent_publish_batch`):
 * - A batch is appended one record at a time, each after its own WAL write (an await). Batches of
 *   other connections to the same partition are appended in between, so a batch's records are not
 *   contiguous: `baseOffset + i` can name another producer's record.
 * - A duplicate answer carries the offset the broker cached for the batch's *base* sequence; it
 *   says nothing of the records after it (a batch that failed part-way inside the broker is called
 *   a duplicate, tail included), and when the sequence fell out of the broker's 5-entry cache the
 *   offset is that of some later record (`cached_offset_for_sequence` falls back to `last_offset`).
 *
 * The read is cheap next to the write: the broker makes each record durable on its own (~1.5 ms a
 * record), while reading a few records back is one request served from the segment.
 *
 * Identity is by bytes: a record is found when the key and the stored value are equal to the ones
 * sent. Records are searched in order, so a record is never matched before the one sent ahead of it.
 */
import { firstValueFrom } from 'rxjs';
import type { Client } from '../client/client.js';

export interface SentRecord {
  key?: Buffer;
  value: Buffer;
}

export interface LocateRequest {
  topic: string;
  partition: number;
  records: readonly SentRecord[];
  /** The offset the broker named for the first record: it must be there (unless `search`). */
  firstOffset: bigint;
  /** Look for the first record at `firstOffset` or after it, not only there. */
  search?: boolean;
}

/** Records read per request: the batch plus room for other writers' records in between. */
const READ_SLACK = 64;
/** Records read per request when searching from a lower bound. */
const SEARCH_READ = 1_000;
/** Requests at most before giving up on the rest of a batch (other writers outran the search). */
const MAX_READS = 16;
/**
 * The offsets of the longest prefix of `records` found in the log: the first record exactly at
 * `firstOffset` (with `search`, the first one at or after it), each next one at a later offset. An
 * empty result means the first record is not at `firstOffset`: the broker's offset is not this
 * batch's (with `search`: not found within the reads allowed).
 */
export async function locateRecords(client: Pick<Client, 'consume$' | 'getOffsetBounds$'>, request: LocateRequest): Promise<bigint[]> {
  const { topic, partition, records, firstOffset } = request;
  const found: bigint[] = [];
  let from = firstOffset;
  let logEnd: bigint | undefined;
  for (let read = 0; read < MAX_READS && found.length < records.length; read++) {
    const wanted = records.length - found.length + (request.search ? SEARCH_READ : READ_SLACK);
    const stored = await firstValueFrom(
      client.consume$(topic, { partition, offset: from, maxMessages: wanted, valueFraming: 'raw', isolationLevel: 'read_uncommitted' }),
      { defaultValue: [] },
    );
    for (const message of stored) {
      if (message.offset < from) continue;
      const next = records[found.length]!;
      if (found.length === 0 && !request.search && (message.offset !== firstOffset || !sameRecord(message, next))) return found;
      if (sameRecord(message, next)) found.push(message.offset);
      if (found.length === records.length) break;
    }
    if (stored.length === 0) break;
    // A page shorter than asked for does not mean the log ends there: rivvend leaves transaction
    // markers out of a read (handler/consume.rs) and cuts it at `maxMessages × 4096` bytes
    // (rivven-core `Partition::read`). Only while records are still missing, ask where the log
    // ends, and read on up to there — not past it: after rivvend's crash recovery the log can hold
    // stale copies beyond its end, at offsets its next writes take.
    if (stored.length < wanted && found.length < records.length) {
      logEnd ??= (await firstValueFrom(client.getOffsetBounds$(topic, partition))).latest;
      if (stored[stored.length - 1]!.offset + 1n >= logEnd) break;
    }
    from = stored[stored.length - 1]!.offset + 1n;
  }
  return found;
}

function sameRecord(stored: { key: Buffer | undefined; value: Buffer }, sent: SentRecord): boolean {
  const storedKey = stored.key !== undefined && stored.key.length > 0 ? stored.key : undefined;
  const sentKey = sent.key !== undefined && sent.key.length > 0 ? sent.key : undefined;
  if ((storedKey === undefined) !== (sentKey === undefined)) return false;
  if (storedKey !== undefined && !storedKey.equals(sentKey!)) return false;
  return stored.value.equals(sent.value);
}
