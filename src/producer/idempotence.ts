/**
 * The idempotent producer's identity and sequences, and their re-initialisation (KIP-360).
 *
 * A session is one producer id/epoch with the next sequence of every partition. rivvend 0.0.22
 * keeps producer state in memory only: after a restart every batch of the old session is answered
 * `UNKNOWN_PRODUCER_ID`, and sequences that no longer match the broker's are `OUT_OF_ORDER_SEQUENCE`.
 * Either way the session is dropped and the next attempt obtains a new id with sequences from 0.
 * The cost: a batch that was in flight when the state was lost may already be stored, and its
 * resend under the new id is not recognised as a duplicate.
 *
 * A batch whose outcome is unknown (it failed with a retriable error and was given up) also ends
 * the session: its sequence numbers may be taken at the broker, and reusing them for the next
 * batch would make the broker answer "duplicate" for records it never stored.
 */
import type { ProducerIdentity } from '../client/client-types.js';
import { ServerError, isRetriable, serverCodeOf } from '../errors.js';
import { createLog, type Log } from '../observability/log.js';
import { PartitionSequences } from './partition-sequences.js';

export interface IdempotentSession {
  readonly identity: ProducerIdentity;
  /** Next sequence per partition number (the broker's model); advanced only by what the broker recorded. */
  readonly sequences: PartitionSequences;
}

/** Broker answers that mean the broker no longer has (or never matched) this session's state. */
const LOST_STATE_CODES = new Set(['UNKNOWN_PRODUCER_ID', 'OUT_OF_ORDER_SEQUENCE']);

/** Answers that say a newer epoch of our producer id exists. */
const FENCING_CODES = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);

/** A newer epoch of this producer id exists: this producer is fenced (or a stranger took its id). */
export function isFencingCode(serverCode: string): boolean {
  return FENCING_CODES.has(serverCode);
}

/** Whether `error` says the broker lost this producer's id or sequences (a restart, typically). */
export function isLostProducerState(error: unknown): boolean {
  if (!(error instanceof ServerError)) return false;
  const code = error.serverCode ?? serverCodeOf(error.serverMessage);
  return code !== undefined && LOST_STATE_CODES.has(code);
}

export class Idempotence {
  private session: Promise<IdempotentSession | undefined> | undefined;
  private granted = false;
  /** Sessions dropped and replaced (the health figure `producerIdResets`). */
  resets = 0;

  constructor(
    private readonly enabled: boolean,
    /** Obtains a producer id; `undefined` (or a non-retriable error) means the broker refused idempotence. */
    private readonly initProducerId: () => Promise<ProducerIdentity>,
    /** Told why idempotence is off, once. */
    private readonly onRefused: (reason: string) => void,
    /** Where re-initialisations are logged (warn); default: the default sink. */
    private readonly log: Log = createLog('producer', undefined, undefined),
  ) {}

  /** Whether batches go out idempotently (false until granted, or after a refusal). */
  isGranted(): boolean {
    return this.granted;
  }

  /** The current session (obtaining one if needed), or undefined when idempotence is off. */
  current(): Promise<IdempotentSession | undefined> {
    if (!this.enabled) return Promise.resolve(undefined);
    if (this.session === undefined) {
      const attempt = this.open();
      this.session = attempt;
      // A retriable failure (broker unreachable) is tried again by the next call.
      attempt.catch(() => {
        if (this.session === attempt) this.session = undefined;
      });
    }
    return this.session;
  }

  /**
   * Drop `stale` (if it is still the current session) so the next `current()` obtains a new id
   * with sequences from 0. Batches of several partitions see the same loss at once; only the first
   * one counts. Returns whether this call dropped it.
   */
  reset(stale: IdempotentSession, why?: unknown): boolean {
    // A new id is always a fresh one (InitProducerId without an id): passing the old id would make
    // rivvend 0.0.22 create it at epoch 0 without reserving it after a restart, so two producers
    // could own it (idempotent.rs `init_producer`).
    if (this.resolved !== stale) return false;
    this.session = undefined;
    this.resolved = undefined;
    this.resets++;
    this.log.warn('producer id re-initialised: the next batches go out under a new producer id with sequences from 0', {
      producerId: stale.identity.producerId,
      producerEpoch: stale.identity.producerEpoch,
      resets: this.resets,
      reason: why === undefined ? 'a batch was given up with its outcome unknown' : why instanceof Error ? why.message : String(why),
    });
    return true;
  }

  /** The current session once obtained (sessions are compared by identity of this object). */
  private resolved: IdempotentSession | undefined;

  private async open(): Promise<IdempotentSession | undefined> {
    try {
      const identity = await this.initProducerId();
      this.granted = identity.producerId !== 0n;
      if (!this.granted) {
        this.onRefused('idempotence not granted: the broker answered producer id 0');
        return undefined;
      }
      const session: IdempotentSession = { identity, sequences: new PartitionSequences() };
      this.resolved = session;
      return session;
    } catch (error) {
      if (isRetriable(error)) throw error;
      this.granted = false;
      this.onRefused(`idempotence not granted: ${(error as Error).message}`);
      return undefined;
    }
  }
}
