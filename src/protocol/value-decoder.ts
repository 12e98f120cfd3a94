/**
 * The one place a fetched value is turned back into what the producer sent: used by `Consumer`
 * and by `Client.consume$`, so both APIs give the same bytes.
 *
 * CONTRACT (stable; the implementation behind it may change):
 * - `framing` says how values are recognised as Rivven-framed:
 *   - 'detect' (default): a value is altered only when it is, beyond reasonable doubt, one a
 *     compressing producer framed (see the implementation's rule); anything else passes unchanged.
 *   - 'rivven-core': every value of the topic was framed by a rivven-core `Compressor` (e.g. a
 *     compressing Rust rivven-client producer, which writes small values as `[0x00][data]`).
 *   - 'raw': never alter a value.
 * - `decodeValues(values, { framing, budgetBytes })` decodes values in order and stops before the
 *   first value whose decoded size would take the total over `budgetBytes` (but always decodes the
 *   first value if it fits the hard per-value cap of 256 MiB and `budgetBytes` ≥ its size).
 *   It resolves `{ decoded, bytes, nextNeeds }`: `decoded.length` ≤ `values.length`; `bytes` is the
 *   decoded total; `nextNeeds` (when `decoded.length < values.length`) is the decoded size the
 *   first value left out needs. The caller fetches the rest again later (split), or fails with a
 *   typed error when even one value cannot fit its per-fetch budget.
 * - Never blocks the event loop for long (large values are inflated off-thread or in slices);
 *   throws `CompressionError` for a value that claims a framing it then breaks (under
 *   'rivven-core'), or one over the per-value cap; and, under any framing but 'raw', for a framed
 *   value whose codec addon (an optional dependency) is not installed.
 *
 * IMPLEMENTATION
 * - The rule for 'detect' and what each framing accepts: src/protocol/value-framing.ts. Under
 *   'detect' nothing throws: a value claiming more than the cap is not beyond doubt framed (a run
 *   of one repeated byte can look like such a claim) and passes unchanged, costing no allocation.
 * - A value's decoded size is read from its headers before anything is inflated (`reserveBytes`:
 *   what inflating may allocate, or the value's own length when it passes unchanged); that is what
 *   the budget is checked against, so a value claiming 200 MB costs nothing when it does not fit.
 * - Values that may inflate to `ASYNC_FROM_BYTES` or more, and every zstd value, are inflated on
 *   the libuv thread pool, up to `MAX_POOLED_IN_FLIGHT` at once (their reservations count against
 *   the budget while they run); smaller ones inline, with a yield to the event loop after every
 *   `YIELD_EVERY_BYTES` of inline work. CRC32s of large outputs are computed in slices with yields.
 * - Errors: the first failing value in fetch order is the one reported.
 */
import { crc32 } from 'node:zlib';
import { CompressionError, ConfigError } from '../errors.js';
import { checksumProblem, inflateAsync, inflateSync, requireDecoder, sizeProblem } from './compression.js';
import { planValue, type ValueFraming, type ValuePlan } from './value-framing.js';

/** Options of `decodeValues`. */
export interface DecodeValuesOptions {
  /** How values are recognised as Rivven-framed (see `ValueFraming`). */
  framing: ValueFraming;
  /** Most decoded bytes this call may produce (see the contract above). */
  budgetBytes: number;
}

/** What `decodeValues` resolves. */
export interface DecodedValues {
  /** The decoded values, in order: a prefix of the values given. */
  decoded: Buffer[];
  /** Total bytes of the decoded values. */
  bytes: number;
  /** Decoded size the first value left out needs, when not every value was decoded. */
  nextNeeds?: number;
}

/** Values that may inflate to this many bytes or more go to the thread pool (LZ4: ~1 ms per MiB here). */
export const ASYNC_FROM_BYTES = 1024 * 1024;
/** Inline work (bytes inflated or checksummed) between two yields to the event loop: ~5–20 ms. */
export const YIELD_EVERY_BYTES = 8 * 1024 * 1024;
/** Values inflating on the thread pool at once (libuv runs 4 threads by default). */
export const MAX_POOLED_IN_FLIGHT = 4;

type DecodePlan = Extract<ValuePlan, { action: 'decode' }>;

/** Let timers and I/O run (setImmediate: after pending I/O callbacks, no timer involved). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

type Settled = { ok: true; value: Buffer } | { ok: false; error: unknown };

/** A value inflating on the pool: its slot, what was reserved for it, its outcome. */
interface Pooled {
  index: number;
  reserved: number;
  result: Promise<Settled>;
}

/**
 * Turn fetched values back into what their producers sent, in order, within `budgetBytes` of
 * decoded output (see the contract at the top of value-decoder.ts). Throws ConfigError for bad
 * options, CompressionError for a value that breaks the framing it claims (under 'rivven-core'),
 * one over the 256 MiB per-value cap, or a framed value whose codec addon is not installed.
 */
export async function decodeValues(values: readonly Buffer[], options: DecodeValuesOptions): Promise<DecodedValues> {
  const { framing, budgetBytes } = options;
  // NaN would compare false against every size and lift the bound altogether.
  if (typeof budgetBytes !== 'number' || !(budgetBytes >= 0)) {
    throw new ConfigError('budgetBytes', `expected a byte count ≥ 0, got ${String(budgetBytes)}`);
  }
  if (framing !== 'detect' && framing !== 'rivven-core' && framing !== 'raw') {
    throw new ConfigError('framing', `expected 'detect', 'rivven-core' or 'raw', got '${String(framing)}'`);
  }
  const decoded: Buffer[] = [];
  // Decoded bytes of the values done, plus what is reserved for those still on the pool.
  let accounted = 0;
  const pooled: Pooled[] = [];
  // Inline work since the last yield, in bytes.
  const work = { sinceYield: 0 };
  /** Settle pooled values, oldest first, until at most `keep` remain; the first failure is thrown. */
  const drain = async (keep: number): Promise<void> => {
    while (pooled.length > keep) {
      const next = pooled.shift()!;
      const settled = await next.result;
      if (!settled.ok) throw settled.error;
      decoded[next.index] = settled.value;
      accounted += settled.value.length - next.reserved;
    }
  };
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    const plan = planValue(value, framing);
    if (plan.action === 'fail') {
      await drain(0); // an earlier value's failure comes first
      throw new CompressionError(`${where(i, values.length)}: ${plan.reason}`);
    }
    const needs = plan.action === 'pass' ? value.length : plan.reserveBytes;
    // Reservations may exceed what values really decode to: settle them before giving up.
    if (accounted + needs > budgetBytes && pooled.length > 0) await drain(0);
    if (accounted + needs > budgetBytes) return { decoded, bytes: accounted, nextNeeds: needs };
    if (plan.action === 'pass') {
      decoded[i] = value;
      accounted += value.length;
    } else if (inflatesOnPool(plan)) {
      const result = decodeOne(value, plan, where(i, values.length), work).then(
        (output): Settled => ({ ok: true, value: output }),
        (error: unknown): Settled => ({ ok: false, error }),
      );
      pooled.push({ index: i, reserved: needs, result });
      accounted += needs;
      await drain(MAX_POOLED_IN_FLIGHT - 1);
    } else {
      let output: Buffer;
      try {
        output = await decodeOne(value, plan, where(i, values.length), work);
      } catch (error) {
        await drain(0);
        throw error;
      }
      decoded[i] = output;
      accounted += output.length;
    }
    if (work.sinceYield >= YIELD_EVERY_BYTES) {
      await yieldToEventLoop();
      work.sinceYield = 0;
    }
  }
  await drain(0);
  return { decoded, bytes: accounted };
}

/** Zstd (its binding is async only) and anything that may inflate to `ASYNC_FROM_BYTES` or more. */
function inflatesOnPool(plan: DecodePlan): boolean {
  const { algorithm } = plan.header;
  return algorithm === 'zstd' || (algorithm !== 'none' && plan.reserveBytes >= ASYNC_FROM_BYTES);
}

function where(index: number, count: number): string {
  return `value ${index + 1} of ${count} in the fetch`;
}

/** One framed value: inflate (inline or on the pool), then check size and CRC. */
async function decodeOne(value: Buffer, plan: DecodePlan, where: string, work: { sinceYield: number }): Promise<Buffer> {
  const { header } = plan;
  // A codec addon that is not installed fails the fetch (CompressionError naming the package), even
  // under 'detect': passing the value on unchanged would hand the reader compressed bytes.
  requireDecoder(header);
  let output: Buffer;
  try {
    if (header.algorithm === 'none') {
      output = header.payload;
    } else if (inflatesOnPool(plan)) {
      output = await inflateAsync(header);
    } else {
      output = inflateSync(header);
      work.sinceYield += output.length;
    }
  } catch (error) {
    if (plan.onMismatch === 'pass') return value;
    throw new CompressionError(`${where}: ${(error as Error).message}`, { cause: error });
  }
  let problem = sizeProblem(header, plan.exactSize, output);
  if (problem === undefined && header.expectedCrc !== undefined) {
    const actual = await checksum(output, work);
    if (actual !== header.expectedCrc) problem = checksumProblem(header.expectedCrc, actual);
  }
  if (problem === undefined) return output;
  if (plan.onMismatch === 'pass') return value;
  throw new CompressionError(`${where}: ${problem}`);
}

/** CRC32 of `data`, in slices with yields in between once a slice's worth of work has piled up. */
async function checksum(data: Buffer, work: { sinceYield: number }): Promise<number> {
  let crc = 0;
  for (let offset = 0; offset < data.length; offset += YIELD_EVERY_BYTES) {
    const slice = data.subarray(offset, offset + YIELD_EVERY_BYTES);
    if (work.sinceYield + slice.length > YIELD_EVERY_BYTES) {
      await yieldToEventLoop();
      work.sinceYield = 0;
    }
    crc = crc32(slice, crc);
    work.sinceYield += slice.length;
  }
  return crc;
}
