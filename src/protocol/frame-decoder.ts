/**
 * Reassembles frames from a byte stream cut anywhere (one byte at a time, or many frames per chunk).
 * Pure and synchronous: feed it chunks, get whole frame bodies back. Memory is bounded by one frame
 * (at most MAX_MESSAGE_SIZE) plus the chunk being read and one earlier chunk the unfinished frame
 * began in: a length over the limit is refused before anything is buffered for it.
 */
import { ProtocolError } from '../errors.js';
import { LENGTH_PREFIX_SIZE, MAX_MESSAGE_SIZE, WIRE_HEADER_SIZE, parseFrameBody, type FrameBody } from './frame.js';

/**
 * Reassembles frame bodies from a byte stream cut anywhere; a length over `maxFrameSize` (default
 * `MAX_MESSAGE_SIZE`) is a ProtocolError before anything is buffered for it.
 */
export class FrameDecoder {
  /** Bytes of an unfinished frame, kept as the chunks they came in (joined once the frame is whole). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Body length of the frame being assembled, once its prefix has been read. */
  private expected = -1;

  constructor(private readonly maxFrameSize = MAX_MESSAGE_SIZE) {}

  /** Bytes buffered for an unfinished frame. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Feed a chunk; returns every frame it completes, in order. Throws ProtocolError on a bad frame. */
  push(chunk: Buffer): FrameBody[] {
    const frames: FrameBody[] = [];
    let offset = 0;
    if (this.pendingBytes > 0) {
      if (this.expected < 0) {
        if (this.pendingBytes + chunk.length < LENGTH_PREFIX_SIZE) {
          this.keep(chunk);
          return frames;
        }
        this.expected = this.readLength(Buffer.concat([...this.pending, chunk], LENGTH_PREFIX_SIZE).readUInt32BE(0));
      }
      // The bytes of this chunk that finish the frame; the rest of the chunk is read in place below.
      const needed = LENGTH_PREFIX_SIZE + this.expected - this.pendingBytes;
      if (chunk.length < needed) {
        this.keep(chunk);
        return frames;
      }
      this.pending.push(chunk.subarray(0, needed));
      const whole = Buffer.concat(this.pending, LENGTH_PREFIX_SIZE + this.expected);
      this.pending = [];
      this.pendingBytes = 0;
      this.expected = -1;
      frames.push(parseFrameBody(whole.subarray(LENGTH_PREFIX_SIZE)));
      offset = needed;
    }
    while (chunk.length - offset >= LENGTH_PREFIX_SIZE) {
      const length = this.readLength(chunk.readUInt32BE(offset));
      const end = offset + LENGTH_PREFIX_SIZE + length;
      if (end > chunk.length) {
        this.expected = length;
        break;
      }
      frames.push(parseFrameBody(chunk.subarray(offset + LENGTH_PREFIX_SIZE, end)));
      offset = end;
    }
    if (offset < chunk.length) {
      // The start of an unfinished frame. A short one is copied, so as not to pin the chunk it
      // came from; one that is most of its chunk is kept as a view: copying it now would copy it
      // twice (it is copied again when the frame is joined), and it pins at most that one chunk.
      const tail = chunk.subarray(offset);
      this.keep(tail.length * 2 >= chunk.length ? tail : Buffer.from(tail));
    }
    return frames;
  }

  private keep(bytes: Buffer): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
  }

  private readLength(length: number): number {
    if (length > this.maxFrameSize) {
      throw new ProtocolError(`frame length ${length} exceeds the limit of ${this.maxFrameSize} bytes`);
    }
    if (length < WIRE_HEADER_SIZE) {
      throw new ProtocolError(`frame length ${length} is shorter than the ${WIRE_HEADER_SIZE}-byte header`);
    }
    return length;
  }
}
