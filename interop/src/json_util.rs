//! Small JSON / hex helpers shared by the subcommands.
//!
//! No `hex` crate on purpose: adding a direct dependency would change Cargo.lock, and the build
//! runs with `--locked`.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// Largest integer a JavaScript `number` represents exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Lower-case hex, no prefix.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    s
}

/// Parses hex (either case, no prefix, no separators).
pub fn from_hex(s: &str) -> Result<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let raw = s.as_bytes();
    if raw.len() % 2 != 0 {
        bail!("odd number of hex digits ({})", raw.len());
    }
    raw.chunks(2)
        .enumerate()
        .map(|(i, pair)| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => Ok((h << 4) | l),
            _ => bail!("invalid hex digit near offset {}", i * 2),
        })
        .collect()
}

/// Replaces every integer whose magnitude exceeds 2^53-1 with its exact decimal text as a JSON
/// string, so JavaScript's `JSON.parse` cannot silently round u64/i64 extremes.
/// Numbers that fit stay numbers.
pub fn make_js_safe(value: &mut Value) {
    match value {
        Value::Number(n) => {
            let unsafe_int = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                // Floats never occur in the protocol; leave them alone.
                (None, None) => false,
            };
            if unsafe_int {
                *value = Value::String(n.to_string());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_js_safe),
        Value::Object(map) => map.values_mut().for_each(make_js_safe),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Writes `value` pretty-printed with a trailing newline.
///
/// serde_json is built without `preserve_order` in this lock file, so objects inside
/// `serde_json::Value` have sorted keys; typed structs keep their declaration order. Both are
/// deterministic.
pub fn write_pretty<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("serializing JSON")?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&data)).unwrap(), data);
        assert_eq!(from_hex("ABff").unwrap(), vec![0xab, 0xff]);
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }

    #[test]
    fn js_safe_numbers() {
        let mut v = serde_json::json!({
            "a": u64::MAX, "b": i64::MIN, "c": MAX_SAFE_INTEGER, "d": MAX_SAFE_INTEGER + 1,
            "e": -(MAX_SAFE_INTEGER as i64), "f": [1, i64::MAX]
        });
        make_js_safe(&mut v);
        assert_eq!(v["a"], Value::String("18446744073709551615".into()));
        assert_eq!(v["b"], Value::String("-9223372036854775808".into()));
        assert_eq!(v["c"], serde_json::json!(MAX_SAFE_INTEGER));
        assert_eq!(v["d"], Value::String("9007199254740992".into()));
        assert_eq!(v["e"], serde_json::json!(-(MAX_SAFE_INTEGER as i64)));
        assert_eq!(v["f"][1], Value::String("9223372036854775807".into()));
    }
}
