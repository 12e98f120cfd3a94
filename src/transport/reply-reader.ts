/**
 * The inbound side of one Connection: bytes from the socket become frames, frames become decoded
 * replies, handed over in order (the frame decoder and codecs are protocol/'s; this is where they
 * meet the socket). Replies with many records are decoded a slice per macrotask, the socket paused
 * meanwhile, so the event loop keeps turning; a TLS answer on a plaintext connection is recognised
 * and reported as such. A room of its own because turning a byte stream into replies is a job with
 * its own state (partial frames, the slicing inbox); what a reply means for its request is
 * correlation.ts's.
 */
import type { Socket } from 'node:net';
import { TlsError, type RivvenError } from '../errors.js';
import type { ResolvedResponseLimits } from '../protocol/decode-limits.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import type { FrameBody } from '../protocol/frame.js';
import { decodeResponse } from '../protocol/message-codec.js';
import type { Response } from '../protocol/response-schema.js';
import { SlicedMessagesDecoder, messagesRecordCount } from '../protocol/sliced-messages.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { SocketFactory } from '../connection-settings.js';

/** Replies with more records than this are decoded this many records per macrotask. */
const RECORDS_PER_SLICE = 10_000;

export interface ReplyReaderSettings {
  address: BrokerAddress;
  socketFactory: SocketFactory;
  responseLimits: ResolvedResponseLimits;
}

/** Where the reader's replies and failures go. */
export interface ReplyReaderHost {
  socket(): Socket | undefined;
  /** Failed or closed: nothing more is read or dispatched. */
  finished(): boolean;
  fail(error: RivvenError): void;
  /** A chunk arrived (the quick-ACK pinger's cue). */
  afterChunk(): void;
  /** True if the reply answers a frame that is not a request (a quick-ACK ping): it is dropped. */
  dropReply(correlationId: number): boolean;
  /** Hand a decoded reply to its request. False if the connection failed on it (stop reading). */
  dispatch(correlationId: number, response: Response, bytesIn: number): boolean;
  undecodable(correlationId: number, error: unknown, bytesIn: number): void;
}

export class ReplyReader {
  private readonly decoder = new FrameDecoder();
  private framesReceived = 0;
  /** A large reply is being decoded in slices; frames that arrive meanwhile wait in `inbox`. */
  private slicing = false;
  private inbox: FrameBody[] = [];
  bytesIn = 0;

  constructor(
    private readonly settings: ReplyReaderSettings,
    private readonly host: ReplyReaderHost,
  ) {}

  /**
   * Bytes of a reply received only in part, which leave the connection unusable if its request
   * gives up. (While a large reply is decoded in slices the socket is paused: bytes wait, nothing is stuck.)
   */
  get stuckBytes(): number {
    return this.slicing ? 0 : this.decoder.buffered;
  }

  onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.framesReceived === 0 && this.decoder.buffered === 0 && looksLikeTlsRecord(chunk) && !this.settings.socketFactory.encrypted) {
      this.host.fail(
        new TlsError(
          `${formatAddress(this.settings.address)} answered with TLS: this port expects TLS connections; set the \`tls\` option (or use the broker's plaintext port)`,
          { tlsCode: 'TLS_EXPECTED' },
        ),
      );
      return;
    }
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.host.fail(error as RivvenError);
      return;
    }
    this.framesReceived += frames.length;
    this.host.afterChunk();
    if (frames.length === 0) return;
    // Frames are handled in order: while a large reply is decoded in slices, later ones wait.
    if (this.slicing) {
      for (const frame of frames) this.inbox.push(frame);
      return;
    }
    this.handleFrames(frames);
  }

  /** Decode and dispatch frames in order; stops (queuing the rest) when one needs sliced decoding. */
  private handleFrames(frames: readonly FrameBody[]): void {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      if (this.host.finished()) return;
      if (this.host.dropReply(frame.correlationId)) continue;
      if ((messagesRecordCount(frame.payload) ?? 0) > RECORDS_PER_SLICE) {
        for (let j = i + 1; j < frames.length; j++) this.inbox.push(frames[j]!);
        this.decodeInSlices(frame);
        return;
      }
      let response: Response;
      try {
        response = decodeResponse(frame.payload, this.settings.responseLimits);
      } catch (error) {
        this.host.undecodable(frame.correlationId, error, frame.payload.length);
        return;
      }
      if (!this.host.dispatch(frame.correlationId, response, frame.payload.length)) return;
    }
  }

  /**
   * A reply with more than RECORDS_PER_SLICE records: decoded a slice per macrotask so no single
   * task holds the event loop for the whole reply (100,000 records take 50-150 ms in one go).
   * The socket is paused meanwhile (later frames wait in order; memory stays bounded).
   */
  private decodeInSlices(frame: FrameBody): void {
    let decoder: SlicedMessagesDecoder;
    try {
      decoder = new SlicedMessagesDecoder(frame.payload, this.settings.responseLimits);
    } catch (error) {
      this.host.undecodable(frame.correlationId, error, frame.payload.length);
      return;
    }
    this.slicing = true;
    this.host.socket()?.pause();
    const step = () => {
      if (this.host.finished()) {
        this.slicing = false;
        this.inbox = [];
        return;
      }
      let response: Response | undefined;
      try {
        response = decoder.step(RECORDS_PER_SLICE);
      } catch (error) {
        this.slicing = false;
        this.host.undecodable(frame.correlationId, error, frame.payload.length);
        return;
      }
      if (response === undefined) {
        setImmediate(step);
        return;
      }
      this.slicing = false;
      if (!this.host.dispatch(frame.correlationId, response, frame.payload.length)) return;
      const queued = this.inbox;
      this.inbox = [];
      this.handleFrames(queued);
      if (!this.slicing && !this.host.finished()) this.host.socket()?.resume();
    };
    setImmediate(step);
  }
}

/** A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a Rivven frame was expected. */
function looksLikeTlsRecord(chunk: Buffer): boolean {
  return chunk.length >= 2 && (chunk[0] === 0x15 || chunk[0] === 0x16) && chunk[1] === 0x03;
}
