/**
 * Postcard deserialisation primitives with the checks postcard itself makes (varint overflow,
 * bool/option tags, UTF-8) plus the ones a client facing a hostile server needs (every length is
 * checked against the bytes left before anything is allocated). Pure: bytes in, values out.
 */
import { ProtocolError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class PostcardReader {
  private position = 0;

  constructor(private readonly buffer: Buffer) {}

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
    let low = 0;
    let multiplier = 1;
    let i = 0;
    for (; i < 7; i++) {
      if (this.position >= this.buffer.length) this.fail(`truncated varint for ${what}`);
      const byte = this.buffer[this.position++]!;
      low += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return BigInt(low);
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

  zigzag64(what: string): bigint {
    const raw = this.varintBig(what);
    return raw & 1n ? -(raw >> 1n) - 1n : raw >> 1n;
  }

  /** A length prefix for a sequence; each element takes at least one byte, so it can't exceed what's left. */
  count(what: string, limit: number): number {
    const n = this.varint(53, `${what} length`);
    if (n > limit) this.fail(`${what} has ${n} items, more than the protocol's limit of ${limit}`);
    if (n > this.remaining) this.fail(`${what} claims ${n} items but only ${this.remaining} bytes are left`);
    return n;
  }

  bytes(what: string): Buffer {
    const length = this.varint(53, `${what} length`);
    this.need(length, what);
    const start = this.position;
    this.position += length;
    return this.buffer.subarray(start, this.position);
  }

  string(what: string, maxBytes?: number): string {
    const length = this.varint(53, `${what} length`);
    this.need(length, what);
    if (maxBytes !== undefined && length > maxBytes) {
      this.fail(`${what} is ${length} bytes, longer than the protocol's limit of ${maxBytes}`);
    }
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
