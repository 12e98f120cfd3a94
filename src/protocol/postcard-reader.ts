/**
 * Postcard deserialisation primitives with the checks postcard itself makes (varint overflow,
 * bool/option tags, UTF-8) plus the ones a client facing a hostile server needs (every length is
 * checked against the bytes left before anything is allocated). Pure: bytes in, values out.
 */
import { ProtocolError } from '../errors.js';
import { DEFAULT_RESPONSE_LIMITS, type ResolvedResponseLimits } from './decode-limits.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** 0n … 255n made once: small u64s (partitions' first offsets, counts) and small differences between consecutive values. */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 256 }, (_, i) => BigInt(i));

export class PostcardReader {
  private position = 0;
  /** List/map entries this message may still hold (see ResponseLimits.maxItemsPerResponse). */
  private itemsLeft: number;
  /** Headers this message may still hold (ResponseLimits.maxHeadersPerResponse). */
  private headersLeft: number;

  constructor(
    private readonly buffer: Buffer,
    private readonly limits: ResolvedResponseLimits = DEFAULT_RESPONSE_LIMITS,
  ) {
    this.itemsLeft = limits.maxItemsPerResponse;
    this.headersLeft = limits.maxHeadersPerResponse;
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.buffer.length - this.position;
  }

  fail(what: string): never {
    throw new ProtocolError(`malformed message at byte ${this.position}: ${what}`);
  }

  private need(count: number, what: string): void {
    if (count > this.buffer.length - this.position) {
      this.fail(`truncated ${what} (needs ${count} bytes, ${this.buffer.length - this.position} left)`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buffer[this.position++]!;
  }

  bool(what = 'bool'): boolean {
    const byte = this.u8(what);
    if (byte > 1) this.fail(`${what}: invalid bool byte ${byte}`);
    return byte === 1;
  }

  /** Option tag: postcard writes 0 for None and 1 for Some. */
  optionTag(what: string): boolean {
    const byte = this.u8(what);
    if (byte > 1) this.fail(`${what}: invalid option tag ${byte}`);
    return byte === 1;
  }

  /**
   * Unsigned LEB128 varint of at most `bits` bits (16, 32 or 53 for usize as a JS number).
   * Like postcard, rejects a varint that runs past its type's width or overflows in its last byte.
   */
  varint(bits: 16 | 32 | 53, what: string): number {
    // One-byte values (most lengths, counts, partitions) need no loop and no range check.
    if (this.position < this.buffer.length) {
      const first = this.buffer[this.position]!;
      if (first < 0x80) {
        this.position++;
        return first;
      }
    }
    const maxBytes = bits === 16 ? 3 : bits === 32 ? 5 : 10;
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (this.position >= this.buffer.length) this.fail(`truncated varint for ${what}`);
      const byte = this.buffer[this.position++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        const max = bits === 16 ? 0xffff : bits === 32 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
        if (result > max) this.fail(`${what}: value ${result} out of range`);
        return result;
      }
      multiplier *= 0x80;
    }
    this.fail(`${what}: varint longer than ${maxBytes} bytes`);
  }

  /** u64 varint as bigint (at most 10 bytes, the last carrying one bit). */
  varintBig(what: string): bigint {
    // Most u64s on the wire are small: decode those without bigint arithmetic.
    const buf = this.buffer;
    let low = 0;
    let multiplier = 1;
    let i = 0;
    for (; i < 7; i++) {
      if (this.position >= buf.length) this.fail(`truncated varint for ${what}`);
      const byte = buf[this.position++]!;
      low += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return this.u64FromNumber(low);
      multiplier *= 0x80;
    }
    let result = BigInt(low);
    let shift = 49n;
    for (; i < 10; i++) {
      if (this.position >= this.buffer.length) this.fail(`truncated varint for ${what}`);
      const byte = this.buffer[this.position++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (i === 9 && byte > 0x01) this.fail(`${what}: u64 varint overflows`);
        return result;
      }
      shift += 7n;
    }
    this.fail(`${what}: varint longer than 10 bytes`);
  }

  zigzag32(what: string): number {
    const raw = this.varint(32, what);
    return (raw >>> 1) ^ -(raw & 1);
  }

  // The last i64 read as a number and as a bigint: `BigInt(n)` of a large number (a timestamp)
  // costs several times `previous + BigInt(small difference)`, and consecutive records' timestamps
  // are equal or close. Bigints are immutable, so handing out the same one twice is safe.
  // The same for u64s (offsets): consecutive records' offsets differ by one, and `previous + 1n`
  // (a small cached bigint) costs a fraction of `BigInt(n)`. Both pairs only ever hold exact values
  // below 2^49 (what the 7-byte varint paths produce), so every sum is exact.
  private lastI64 = 0;
  private lastI64Big = 0n;
  private lastU64 = 0;
  private lastU64Big = 0n;

  private i64FromNumber(value: number): bigint {
    const delta = value - this.lastI64;
    if (delta === 0) return this.lastI64Big;
    const big =
      delta > 0 && delta < SMALL_BIGINTS.length
        ? this.lastI64Big + SMALL_BIGINTS[delta]!
        : delta > -0x4000_0000 && delta < 0x4000_0000
          ? this.lastI64Big + BigInt(delta)
          : BigInt(value);
    this.lastI64 = value;
    this.lastI64Big = big;
    return big;
  }

  private u64FromNumber(value: number): bigint {
    if (value < SMALL_BIGINTS.length) return SMALL_BIGINTS[value]!;
    const delta = value - this.lastU64;
    if (delta === 0) return this.lastU64Big;
    const big = delta > 0 && delta < SMALL_BIGINTS.length ? this.lastU64Big + SMALL_BIGINTS[delta]! : BigInt(value);
    this.lastU64 = value;
    this.lastU64Big = big;
    return big;
  }

  zigzag64(what: string): bigint {
    // Timestamps and most i64s fit in 7 varint bytes (|value| < 2^48): undo the zigzag in double
    // arithmetic (exact below 2^53) and make a single bigint, instead of three bigint operations.
    const buf = this.buffer;
    let position = this.position;
    const end = Math.min(buf.length, position + 7);
    // The zigzag sign is the lowest bit of the first byte (no floating-point `%` needed).
    const negative = position < end && (buf[position]! & 1) === 1;
    let raw = 0;
    let multiplier = 1;
    while (position < end) {
      const byte = buf[position++]!;
      raw += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        this.position = position;
        // raw < 2^49: both halves are exact in double arithmetic.
        return this.i64FromNumber(negative ? -(raw + 1) / 2 : raw / 2);
      }
      multiplier *= 0x80;
    }
    const big = this.varintBig(what);
    return big & 1n ? -(big >> 1n) - 1n : big >> 1n;
  }

  /** A length prefix for a sequence; each element takes at least one byte, so it can't exceed what's left. */
  count(what: string, limit: number): number {
    const n = this.lengthPrefix(what);
    if (n > limit) this.fail(`${what} has ${n} items, more than the protocol's limit of ${limit}`);
    if (n > this.remaining) this.fail(`${what} claims ${n} items but only ${this.remaining} bytes are left`);
    // Charged before anything is allocated: nested lists multiply, the budget does not.
    if (n > this.itemsLeft) {
      this.fail(
        `${what}: the message holds more than ${this.limits.maxItemsPerResponse} list and map items in all ` +
          '(limit responseLimits.maxItemsPerResponse); a broker sends far fewer — raise it only for a broker you trust',
      );
    }
    this.itemsLeft -= n;
    return n;
  }

  /**
   * A record's headers, `Vec<(String, Vec<u8>)>`, checked against the header limits before
   * anything is allocated (each one costs ~160 bytes of objects however small it is on the wire).
   */
  headers(what: string): [string, Buffer][] {
    const n = this.lengthPrefix(what);
    if (n === 0) return [];
    const limits = this.limits;
    if (n > limits.maxHeadersPerRecord) {
      this.fail(`${what}: a record with ${n} headers, more than responseLimits.maxHeadersPerRecord (${limits.maxHeadersPerRecord})`);
    }
    if (n * 2 > this.remaining) this.fail(`${what} claims ${n} headers but only ${this.remaining} bytes are left`);
    if (n > this.headersLeft) {
      this.fail(
        `${what}: the message holds more than ${limits.maxHeadersPerResponse} headers in all ` +
          `(limit responseLimits.maxHeadersPerResponse)`,
      );
    }
    this.headersLeft -= n;
    const out = new Array<[string, Buffer]>(n);
    for (let i = 0; i < n; i++) {
      const keyLength = this.lengthPrefix(what);
      if (keyLength > limits.maxHeaderKeyBytes) {
        this.fail(`${what}: a header key of ${keyLength} bytes, more than responseLimits.maxHeaderKeyBytes (${limits.maxHeaderKeyBytes})`);
      }
      this.need(keyLength, what);
      const key = this.decodeString(keyLength, what);
      const valueLength = this.lengthPrefix(what);
      if (valueLength > limits.maxHeaderValueBytes) {
        this.fail(
          `${what}: a header value of ${valueLength} bytes, more than responseLimits.maxHeaderValueBytes (${limits.maxHeaderValueBytes})`,
        );
      }
      this.need(valueLength, what);
      const start = this.position;
      this.position += valueLength;
      out[i] = [key, this.buffer.subarray(start, this.position)];
    }
    return out;
  }

  /** A usize length prefix; the error label (`<what> length`) is only built when something is wrong. */
  private lengthPrefix(what: string): number {
    if (this.position < this.buffer.length) {
      const first = this.buffer[this.position]!;
      if (first < 0x80) {
        this.position++;
        return first;
      }
    }
    return this.varint(53, `${what} length`);
  }

  bytes(what: string): Buffer {
    const length = this.lengthPrefix(what);
    this.need(length, what);
    const start = this.position;
    this.position += length;
    return this.buffer.subarray(start, this.position);
  }

  string(what: string, maxBytes?: number): string {
    const length = this.lengthPrefix(what);
    this.need(length, what);
    if (maxBytes !== undefined && length > maxBytes) {
      this.fail(`${what} is ${length} bytes, longer than the protocol's limit of ${maxBytes}`);
    }
    return this.decodeString(length, what);
  }

  /** The next `length` bytes (already checked to be there) as UTF-8. */
  private decodeString(length: number, what: string): string {
    const start = this.position;
    this.position += length;
    // ASCII fast path: latin1 decoding is exact for bytes < 0x80 and much cheaper than TextDecoder.
    const buf = this.buffer;
    let ascii = true;
    for (let i = start; i < this.position; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return buf.toString('latin1', start, this.position);
    try {
      return utf8.decode(buf.subarray(start, this.position));
    } catch {
      this.position = start;
      this.fail(`${what} is not valid UTF-8`);
    }
  }

  /** A postcard message must be consumed exactly; extra bytes mean the peer speaks something else. */
  expectEnd(what: string): void {
    if (this.position !== this.buffer.length) {
      this.fail(`${this.buffer.length - this.position} trailing bytes after ${what}`);
    }
  }
}
