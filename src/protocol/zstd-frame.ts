/**
 * An upper bound on what a zstd payload decompresses to, read from its frame and block headers
 * alone (RFC 8878 §3.1). Decompression libraries trust the data; walking the headers first lets us
 * refuse a decompression bomb before a single output byte is allocated. Pure.
 */

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** A compressed block never regenerates more than this (Block_Maximum_Size ≤ 128 KiB). */
const MAX_BLOCK_OUTPUT = 128 * 1024;

export type ZstdBound =
  | {
      ok: true;
      /** Most bytes the payload can regenerate: `declaredContentSize` if known, else `blockBound`. */
      maxOutput: number;
      /** The sum of the frames' content sizes, when every frame declares one (what decoders allocate). */
      declaredContentSize: number | undefined;
      /** What the block headers allow: raw and RLE blocks exactly, 128 KiB per compressed block. */
      blockBound: number;
    }
  | { ok: false; reason: string };

export function zstdOutputBound(data: Uint8Array, limit: number): ZstdBound {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  let total = 0;
  let declared: number | undefined;
  let undeclaredFrames = 0;
  let frames = 0;
  while (offset < data.length) {
    if (data.length - offset < 4) return { ok: false, reason: 'truncated zstd frame magic' };
    const magic = view.getUint32(offset, true);
    offset += 4;
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - offset < 4) return { ok: false, reason: 'truncated zstd skippable frame' };
      offset += 4 + view.getUint32(offset, true);
      if (offset > data.length) return { ok: false, reason: 'truncated zstd skippable frame' };
      continue;
    }
    if (magic !== ZSTD_MAGIC) return { ok: false, reason: 'not a zstd frame (bad magic number)' };
    frames++;
    if (offset >= data.length) return { ok: false, reason: 'truncated zstd frame header' };
    const descriptor = data[offset++]!;
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    const hasChecksum = (descriptor & 0x04) !== 0;
    const dictIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
    if ((descriptor & 0x08) !== 0) return { ok: false, reason: 'zstd frame header uses a reserved bit' };
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    const headerRest = (singleSegment ? 0 : 1) + dictIdBytes + fcsBytes;
    if (data.length - offset < headerRest) return { ok: false, reason: 'truncated zstd frame header' };
    offset += (singleSegment ? 0 : 1) + dictIdBytes;
    if (fcsBytes > 0) {
      let size: number;
      if (fcsBytes === 1) size = data[offset]!;
      else if (fcsBytes === 2) size = view.getUint16(offset, true) + 256;
      else if (fcsBytes === 4) size = view.getUint32(offset, true);
      else size = view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x1_0000_0000;
      if (size > limit) return { ok: false, reason: `zstd frame declares ${size} bytes of content, over the limit of ${limit}` };
      declared = (declared ?? 0) + size;
      offset += fcsBytes;
    } else {
      undeclaredFrames++;
    }
    for (;;) {
      if (data.length - offset < 3) return { ok: false, reason: 'truncated zstd block header' };
      const header = data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16);
      offset += 3;
      const last = (header & 1) === 1;
      const blockType = (header >> 1) & 3;
      const blockSize = header >>> 3;
      if (blockType === 3) return { ok: false, reason: 'zstd block of reserved type' };
      if (blockType === 0) {
        total += blockSize;
        offset += blockSize;
      } else if (blockType === 1) {
        total += blockSize;
        offset += 1;
      } else {
        total += MAX_BLOCK_OUTPUT;
        offset += blockSize;
      }
      if (offset > data.length) return { ok: false, reason: 'truncated zstd block' };
      if (total > limit && (declared === undefined || undeclaredFrames > 0 || declared > limit)) {
        return { ok: false, reason: `zstd payload may decompress to more than the limit of ${limit} bytes` };
      }
      if (last) break;
    }
    if (hasChecksum) {
      offset += 4;
      if (offset > data.length) return { ok: false, reason: 'truncated zstd frame checksum' };
    }
  }
  if (frames === 0) return { ok: false, reason: 'no zstd frame in payload' };
  const declaredContentSize = undeclaredFrames === 0 ? declared : undefined;
  return { ok: true, maxOutput: declaredContentSize ?? total, declaredContentSize, blockBound: total };
}
