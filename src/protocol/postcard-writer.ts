/**
 * Postcard serialisation primitives (the layout serde + postcard 1.x give rivven-protocol's types).
 * Pure: bytes out, no I/O.
 */

const INITIAL_CAPACITY = 256;
const TWO_POW_32 = 0x1_0000_0000;

/** Bytes of postcard's LEB128 varint for a non-negative integer (exact up to 2^53). */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  let size = 4;
  for (let rest = Math.floor(value / 0x20_0000); rest >= 0x80; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

/** When a write does not fit, the buffer grows to at least twice its size, and to this much past what is needed. */
const GROWTH_SLACK = 64;

/** A varint of a value below 2^32 at `pos` (room already made); returns the position after it. */
function writeVarint32(buf: Buffer, pos: number, value: number): number {
  let v = value >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

export class PostcardWriter {
  private buffer: Buffer;
  private position: number;

  constructor(initialCapacity = INITIAL_CAPACITY, private readonly headerRoom = 0) {
    this.buffer = Buffer.allocUnsafe(Math.max(initialCapacity, headerRoom + 16));
    this.position = headerRoom;
  }

  get length(): number {
    return this.position;
  }

  /** The bytes written so far (a view, not a copy). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.position);
  }

  /** Writable view of the reserved header room (frames fill their length prefix in afterwards). */
  header(): Buffer {
    return this.buffer.subarray(0, this.headerRoom);
  }

  private ensure(extra: number): void {
    const needed = this.position + extra;
    if (needed <= this.buffer.length) return;
    // A big write (a batch's records, sized up front) gets what it needs plus a little, not the next power of two.
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, needed + GROWTH_SLACK));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  /**
   * `Vec<BatchRecord>` (count, then per record `key: Option<Bytes>` and `value: Bytes`) when every
   * record is an object whose key is a byte array or absent and whose value is a byte array: sized
   * exactly in a first pass, so the buffer grows at most once, then written without a call per
   * field. Returns false, having written nothing, for anything else (strings to convert, a record
   * to complain about): the caller takes the general path.
   */
  batchRecords(records: readonly unknown[]): boolean {
    const count = records.length;
    let size = varintSize(count);
    for (let i = 0; i < count; i++) {
      const record = records[i] as { key?: unknown; value?: unknown } | null;
      if (typeof record !== 'object' || record === null) return false;
      const key = record.key;
      const value = record.value;
      if (!(value instanceof Uint8Array)) return false;
      if (key === undefined || key === null) size += 1;
      else if (key instanceof Uint8Array) size += 1 + varintSize(key.length) + key.length;
      else return false;
      size += varintSize(value.length) + value.length;
    }
    this.ensure(size);
    const buf = this.buffer;
    let pos = this.position;
    pos = writeVarint32(buf, pos, count);
    for (let i = 0; i < count; i++) {
      const record = records[i] as { key?: Uint8Array | null; value: Uint8Array };
      const key = record.key;
      if (key === undefined || key === null) {
        buf[pos++] = 0;
      } else {
        buf[pos++] = 1;
        pos = writeVarint32(buf, pos, key.length);
        buf.set(key, pos);
        pos += key.length;
      }
      const value = record.value;
      pos = writeVarint32(buf, pos, value.length);
      buf.set(value, pos);
      pos += value.length;
    }
    this.position = pos;
    return true;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buffer[this.position++] = value;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  /** LEB128 varint of an unsigned integer that fits a JS number exactly (u16, u32, usize ≤ 2^53-1). */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buffer;
    let pos = this.position;
    if (value < TWO_POW_32) {
      // Fast path: 32-bit shifts are exact here.
      pos = writeVarint32(buf, pos, value);
    } else {
      let v = value;
      while (v >= 0x80) {
        buf[pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      buf[pos++] = v;
    }
    this.position = pos;
  }

  /** LEB128 varint of a u64 given as bigint. */
  varintBig(value: bigint): void {
    if (value < 0x1_0000_0000n) {
      this.varint(Number(value));
      return;
    }
    this.ensure(10);
    let v = value;
    while (v >= 0x80n) {
      this.buffer[this.position++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.position++] = Number(v);
  }

  /** i32: zigzag, then varint. */
  zigzag32(value: number): void {
    this.varint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** i64: zigzag, then varint. */
  zigzag64(value: bigint): void {
    this.varintBig(value >= 0n ? value << 1n : (-value << 1n) - 1n);
  }

  bytes(value: Uint8Array): void {
    const length = value.length;
    if (length < 0x80 && this.position + 1 + length <= this.buffer.length) {
      // One call per record value: skip the generic varint and capacity paths for the common case.
      this.buffer[this.position] = length;
      this.buffer.set(value, this.position + 1);
      this.position += 1 + length;
      return;
    }
    this.varint(length);
    this.ensure(length);
    this.buffer.set(value, this.position);
    this.position += length;
  }

  string(value: string): void {
    // Worst case 3 bytes per UTF-16 unit; write in place and patch the length prefix only if needed.
    const maxBytes = value.length * 3;
    if (maxBytes < 0x80) {
      this.ensure(1 + maxBytes);
      const lengthAt = this.position++;
      const written = this.buffer.write(value, this.position, 'utf8');
      this.buffer[lengthAt] = written;
      this.position += written;
      return;
    }
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.varint(byteLength);
    this.ensure(byteLength);
    this.position += this.buffer.write(value, this.position, byteLength, 'utf8');
  }
}
