//! murmur2 / partition vectors from `rivven_core::hash` (the Kafka-compatible key partitioner).

use crate::json_util::to_hex;
use crate::prng::SplitMix64;
use rivven_core::hash::{murmur2, murmur2_partition};
use serde::Serialize;

#[derive(Serialize)]
pub struct MurmurFile {
    pub vectors: Vec<MurmurVector>,
}

#[derive(Serialize)]
pub struct MurmurVector {
    pub key: String,
    pub hash: u32,
    pub partitions: Partitions,
}

/// A struct rather than a map so the keys keep this (numeric) order in the JSON.
#[derive(Serialize)]
pub struct Partitions {
    #[serde(rename = "1")]
    p1: u32,
    #[serde(rename = "2")]
    p2: u32,
    #[serde(rename = "3")]
    p3: u32,
    #[serde(rename = "7")]
    p7: u32,
    #[serde(rename = "64")]
    p64: u32,
    #[serde(rename = "1000")]
    p1000: u32,
}

pub fn file() -> MurmurFile {
    // Kafka's published reference values, to catch a wrong crate rather than a wrong vector.
    assert_eq!(murmur2(b""), 275_646_681);
    assert_eq!(murmur2(b"hello"), 2_132_663_229);
    assert_eq!(murmur2(b"kafka"), 3_496_464_228);

    let vectors = keys()
        .into_iter()
        .map(|key| MurmurVector {
            hash: murmur2(&key),
            partitions: Partitions {
                p1: murmur2_partition(&key, 1),
                p2: murmur2_partition(&key, 2),
                p3: murmur2_partition(&key, 3),
                p7: murmur2_partition(&key, 7),
                p64: murmur2_partition(&key, 64),
                p1000: murmur2_partition(&key, 1000),
            },
            key: to_hex(&key),
        })
        .collect();
    MurmurFile { vectors }
}

fn keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];

    // ASCII words and typical key shapes.
    for word in [
        "a",
        "ab",
        "abc",
        "abcd",
        "abcde",
        "hello",
        "kafka",
        "rivven",
        "user-123",
        "order:2024-01-01:42",
        "The quick brown fox jumps over the lazy dog",
        "0",
        "1",
        "-1",
        "key",
        "Key",
        "KEY",
        " ",
        "  ",
        "tenant/7/device/12345",
        "550e8400-e29b-41d4-a716-446655440000",
        "null",
        "true",
    ] {
        keys.push(word.as_bytes().to_vec());
    }
    for i in 0..20 {
        keys.push(format!("user-{i}").into_bytes());
    }

    // Binary keys of every length 0..=16 (all tail sizes 0..3 after 0..4 whole blocks), in
    // patterns that flip sign bits: zeros, 0xff, ascending, 0x80, alternating.
    for len in 0..=16usize {
        keys.push(vec![0x00; len]);
        keys.push(vec![0xff; len]);
        keys.push((0..len).map(|i| i as u8).collect());
        keys.push(vec![0x80; len]);
        keys.push(
            (0..len)
                .map(|i| if i % 2 == 0 { 0x00 } else { 0xff })
                .collect(),
        );
    }
    // Single bytes across the range (sign-extension bugs show up at ≥ 0x80).
    for byte in [0x01u8, 0x7f, 0x81, 0xfe] {
        keys.push(vec![byte]);
    }

    // Multi-byte UTF-8.
    for text in [
        crate::vectors::fixtures::UNICODE,
        "é",
        "✓",
        "日本語",
        "🚀",
        "ключ",
        "مفتاح",
        "a\u{0}b",
        "\u{10ffff}",
    ] {
        keys.push(text.as_bytes().to_vec());
    }

    // Long keys.
    keys.push((0..1024).map(|i| (i % 251) as u8).collect());
    keys.push(b"0123456789abcdef".repeat(64)); // 1 KB ASCII
    keys.push(vec![0xab; 1027]); // long key with a 3-byte tail

    // Fixed-seed pseudo-random keys, lengths 0..64.
    let mut rng = SplitMix64::new(0x5EED_0F_4D_2025);
    for _ in 0..120 {
        let len = rng.below(65) as usize;
        keys.push(rng.bytes(len));
    }
    keys
}

#[cfg(test)]
mod tests {
    #[test]
    fn enough_keys() {
        assert!(super::keys().len() >= 200);
    }
}
