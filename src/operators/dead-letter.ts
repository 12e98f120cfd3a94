/**
 * The dead-letter record: what `processConcurrently()` produces for a record that failed every
 * attempt, so that a person (or a repair job) can act on it later.
 *
 * rivvend 0.0.22 produce requests carry no headers, so everything travels in the value: a JSON
 * document (UTF-8), one per failed record, whose first field names the format and its version.
 * The original key and value are arbitrary bytes, so they are base64; offsets and timestamps are
 * 64-bit, so they are decimal strings (JSON numbers lose precision past 2⁵³). The dead-letter
 * record's own key is the original key, so the failures of one key land on one dead-letter
 * partition, in the order they happened.
 *
 *   {
 *     "format": "rivven-rx/dead-letter", "version": 1,
 *     "topic": "orders", "partition": 3, "offset": "1234", "timestamp": "1733600000000",
 *     "key": "b3JkZXItNw==", "value": "eyJ0b3RhbCI6IDQyfQ==",
 *     "error": { "class": "TypeError", "message": "total is not a number", "code": null },
 *     "attempts": 3, "firstFailureAt": "2026-12-07T22:00:00.000Z", "deadLetteredAt": "2026-12-07T22:00:00.700Z"
 *   }
 *
 * `decodeDeadLetter` reads one back (the original key and value as Buffers, offsets as bigint).
 */
import { ProtocolError, summarizeError, type ErrorSummary } from '../errors.js';

/** The `format` field of a dead-letter envelope. */
export const DEAD_LETTER_FORMAT = 'rivven-rx/dead-letter';
/** The envelope version this release writes (and the one it reads). */
export const DEAD_LETTER_VERSION = 1;

/** A dead-lettered record, as `decodeDeadLetter` returns it. */
export interface DeadLetter {
  /** Where the record was read from. */
  topic: string;
  /** The record's partition. */
  partition: number;
  /** The record's offset. */
  offset: bigint;
  /** The record's timestamp (ms since the epoch), if the source carried one. */
  timestamp: bigint | undefined;
  /** The record's key; `undefined` when it had none. */
  key: Buffer | undefined;
  /** The record's value, as consumed. */
  value: Buffer;
  /** The handler's last error. */
  error: ErrorSummary;
  /** Handler attempts made before giving up. */
  attempts: number;
  /** When the first attempt failed, and when the record was dead-lettered. */
  firstFailureAt: Date;
  /** When the record was dead-lettered. */
  deadLetteredAt: Date;
}

/** What the envelope is built from. */
export interface DeadLetterSource {
  /** The record's topic. */
  topic: string;
  /** The record's partition. */
  partition: number;
  /** The record's offset. */
  offset: bigint;
  /** The record's timestamp (ms since the epoch), if known. */
  timestamp?: bigint | undefined;
  /** The record's key. */
  key: Buffer | undefined;
  /** The record's value. */
  value: Buffer;
}

interface Envelope {
  format: typeof DEAD_LETTER_FORMAT;
  version: number;
  topic: string;
  partition: number;
  offset: string;
  timestamp: string | null;
  key: string | null;
  value: string;
  error: { class: string; message: string; code: string | null };
  attempts: number;
  firstFailureAt: string;
  deadLetteredAt: string;
}

/** The dead-letter value for `record`, which failed `attempts` times, the last with `error`. */
export function encodeDeadLetter(record: DeadLetterSource, error: unknown, attempts: number, firstFailureAt: number, deadLetteredAt: number): Buffer {
  const envelope: Envelope = {
    format: DEAD_LETTER_FORMAT,
    version: DEAD_LETTER_VERSION,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset.toString(),
    timestamp: record.timestamp === undefined ? null : record.timestamp.toString(),
    key: record.key === undefined ? null : record.key.toString('base64'),
    value: record.value.toString('base64'),
    error: describeError(error),
    attempts,
    firstFailureAt: new Date(firstFailureAt).toISOString(),
    deadLetteredAt: new Date(deadLetteredAt).toISOString(),
  };
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

/** Read a dead-letter value back; a value that is not one is a ProtocolError. */
export function decodeDeadLetter(value: Uint8Array): DeadLetter {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'));
  } catch {
    throw new ProtocolError('not a rivven-rx dead-letter record: the value is not JSON');
  }
  if (!isEnvelope(parsed)) throw new ProtocolError(`not a rivven-rx dead-letter record (expected format '${DEAD_LETTER_FORMAT}' version ${DEAD_LETTER_VERSION})`);
  return {
    topic: parsed.topic,
    partition: parsed.partition,
    offset: BigInt(parsed.offset),
    timestamp: parsed.timestamp === null ? undefined : BigInt(parsed.timestamp),
    key: parsed.key === null ? undefined : Buffer.from(parsed.key, 'base64'),
    value: Buffer.from(parsed.value, 'base64'),
    error: { class: parsed.error.class, message: parsed.error.message, code: parsed.error.code ?? undefined },
    attempts: parsed.attempts,
    firstFailureAt: new Date(parsed.firstFailureAt),
    deadLetteredAt: new Date(parsed.deadLetteredAt),
  };
}

/** The envelope's error: the whole message (a person acts on it), and JSON's null for no code. */
function describeError(error: unknown): Envelope['error'] {
  const summary = summarizeError(error);
  return { ...summary, code: summary.code ?? null };
}

const DIGITS = /^[0-9]+$/;

function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  const error = e['error'] as Record<string, unknown> | null | undefined;
  return (
    e['format'] === DEAD_LETTER_FORMAT &&
    e['version'] === DEAD_LETTER_VERSION &&
    typeof e['topic'] === 'string' &&
    Number.isInteger(e['partition']) &&
    typeof e['offset'] === 'string' &&
    DIGITS.test(e['offset']) &&
    (e['timestamp'] === null || (typeof e['timestamp'] === 'string' && DIGITS.test(e['timestamp']))) &&
    (e['key'] === null || typeof e['key'] === 'string') &&
    typeof e['value'] === 'string' &&
    typeof error === 'object' &&
    error !== null &&
    typeof error['class'] === 'string' &&
    typeof error['message'] === 'string' &&
    (error['code'] === null || typeof error['code'] === 'string') &&
    Number.isInteger(e['attempts']) &&
    typeof e['firstFailureAt'] === 'string' &&
    typeof e['deadLetteredAt'] === 'string'
  );
}
