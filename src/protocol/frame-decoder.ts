/**
 * Reassembles frames from a byte stream cut anywhere (one byte at a time, or many frames per chunk).
 * Pure and synchronous: feed it chunks, get whole frame bodies back. Memory is bounded by one frame
 * (at most MAX_MESSAGE_SIZE) plus the chunk being read: a length over the limit is refused before
 * anything is buffered for it.
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
    let data = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.expected < 0) {
        if (this.pendingBytes < LENGTH_PREFIX_SIZE) return frames;
        this.expected = this.readLength(Buffer.concat(this.pending, LENGTH_PREFIX_SIZE).readUInt32BE(0));
      }
      if (this.pendingBytes < LENGTH_PREFIX_SIZE + this.expected) return frames;
      data = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.expected = -1;
    }
    let offset = 0;
    while (data.length - offset >= LENGTH_PREFIX_SIZE) {
      const length = this.readLength(data.readUInt32BE(offset));
      const end = offset + LENGTH_PREFIX_SIZE + length;
      if (end > data.length) {
        this.expected = length;
        break;
      }
      frames.push(parseFrameBody(data.subarray(offset + LENGTH_PREFIX_SIZE, end)));
      offset = end;
    }
    if (offset < data.length) {
      // Copy the tail: it must not pin the (possibly large) chunk it came from.
      const rest = Buffer.from(data.subarray(offset));
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
    return frames;
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
