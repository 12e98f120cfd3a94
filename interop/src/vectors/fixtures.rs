//! Shared edge-case values for the protocol vectors.

use crate::json_util::MAX_SAFE_INTEGER;
use bytes::Bytes;

/// Multi-byte UTF-8 up to 4-byte sequences (the emoji), so string lengths ≠ char counts.
pub const UNICODE: &str = "héllo wörld ✓ 日本語 🚀";

/// 2^53 - 1: the largest usize the TS side accepts (it maps usize to a JS number).
pub const MAX_SAFE: u64 = MAX_SAFE_INTEGER;
pub const MAX_SAFE_USIZE: usize = MAX_SAFE_INTEGER as usize;

pub fn s(text: &str) -> String {
    text.to_string()
}

pub fn b(data: &[u8]) -> Bytes {
    Bytes::copy_from_slice(data)
}

pub fn empty() -> Bytes {
    Bytes::new()
}

/// 0x00..=0xff once each.
pub fn all_bytes() -> Bytes {
    Bytes::from((0..=255u8).collect::<Vec<u8>>())
}

/// `len` bytes of a simple repeating pattern (len 127/128 straddle the 1→2 byte varint length).
pub fn pattern(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i * 7 + 3) as u8).collect::<Vec<u8>>())
}

/// A name of exactly `len` ASCII characters (256 = rivven_protocol::MAX_NAME_LEN, still valid).
pub fn name_of_len(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| x.to_string()).collect()
}
