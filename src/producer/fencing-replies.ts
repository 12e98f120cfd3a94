/**
 * How the broker's answers about epochs are read: the codes that fence this producer, and the
 * refusal of `begin` that names an older epoch of our producer id still holding a transaction
 * (rivvend 0.0.22 does not abort it when the epoch is bumped).
 */
import { ServerError } from '../errors.js';

const FENCING_CODES = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);
/** `begin` answered by the broker when an older epoch of this producer id still has a transaction open. */
const STALE_EPOCH = /PRODUCER_FENCED: expected epoch (\d+), got (\d+)/;

/** A newer epoch of this producer id exists: this producer is fenced. */
export function isFencingCode(serverCode: string): boolean {
  return FENCING_CODES.has(serverCode);
}

/** The older epoch named by a `begin` refusal, when it is older than ours (then we are not the fenced one). */
export function staleEpochOf(error: unknown, ourEpoch: number): number | undefined {
  if (!(error instanceof ServerError)) return undefined;
  const match = STALE_EPOCH.exec(error.serverMessage);
  if (match === null) return undefined;
  const [expected, received] = [Number(match[1]), Number(match[2])];
  return received === ourEpoch && expected < received ? expected : undefined;
}
