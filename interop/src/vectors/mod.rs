//! `vectors --out DIR`: golden vectors produced by the real rivven 0.0.22 crates.
//!
//! Every file is deterministic: fixed-seed data, fixed correlation ids, and HashMaps built so
//! that they iterate in sorted key order (see [`sorted_map`]).

mod compression;
mod fixtures;
mod murmur;
mod requests;
mod responses;

use crate::json_util::{make_js_safe, to_hex, write_pretty};
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::path::Path;

pub const CRATE_ID: &str = "rivven-protocol 0.0.22";

pub fn run(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let requests =
        protocol_file(requests::cases(), requests::VARIANTS).context("building request vectors")?;
    let responses = protocol_file(responses::cases(), responses::VARIANTS)
        .context("building response vectors")?;
    let murmur = murmur::file();
    let compression = compression::file().context("building compression vectors")?;

    write_pretty(&out.join("requests.json"), &requests)?;
    write_pretty(&out.join("responses.json"), &responses)?;
    write_pretty(&out.join("murmur2.json"), &murmur)?;
    write_pretty(&out.join("compression.json"), &compression)?;
    eprintln!(
        "vectors: {} requests, {} responses, {} murmur2 keys, {} compression vectors ({} inputs) → {}",
        requests.vectors.len(),
        responses.vectors.len(),
        murmur.vectors.len(),
        compression.vectors.len(),
        compression.inputs.len(),
        out.display()
    );
    Ok(())
}

/// One named example of a protocol message; the vector name becomes `<Variant>/<case>`.
pub struct Case<T> {
    pub case: String,
    pub msg: T,
}

pub fn case<T>(name: impl Into<String>, msg: T) -> Case<T> {
    Case {
        case: name.into(),
        msg,
    }
}

#[derive(Serialize)]
pub struct ProtocolFile {
    #[serde(rename = "crate")]
    pub krate: &'static str,
    pub vectors: Vec<ProtocolVector>,
}

#[derive(Serialize)]
pub struct ProtocolVector {
    pub name: String,
    pub variant: String,
    pub index: u32,
    #[serde(rename = "correlationId")]
    pub correlation_id: u32,
    pub value: Value,
    pub postcard: String,
    pub wire: String,
}

/// What the generator needs from `Request` / `Response` (they share no trait upstream).
pub trait Message: Serialize + Sized {
    fn postcard(&self) -> Result<Vec<u8>>;
    fn wire(&self, correlation_id: u32) -> Result<Vec<u8>>;
    /// Decodes through the crate's own `from_wire` (which also runs `validate()`), returning the
    /// correlation id and the decoded message as JSON.
    fn decode_wire(wire: &[u8]) -> Result<(u32, Value)>;
}

impl Message for rivven_protocol::Request {
    fn postcard(&self) -> Result<Vec<u8>> {
        Ok(self.to_bytes()?)
    }
    fn wire(&self, correlation_id: u32) -> Result<Vec<u8>> {
        Ok(self.to_wire(rivven_protocol::WireFormat::Postcard, correlation_id)?)
    }
    fn decode_wire(wire: &[u8]) -> Result<(u32, Value)> {
        let (msg, _, cid) = Self::from_wire(wire)?;
        Ok((cid, serde_json::to_value(&msg)?))
    }
}

impl Message for rivven_protocol::Response {
    fn postcard(&self) -> Result<Vec<u8>> {
        Ok(self.to_bytes()?)
    }
    fn wire(&self, correlation_id: u32) -> Result<Vec<u8>> {
        Ok(self.to_wire(rivven_protocol::WireFormat::Postcard, correlation_id)?)
    }
    fn decode_wire(wire: &[u8]) -> Result<(u32, Value)> {
        let (msg, _, cid) = Self::from_wire(wire)?;
        Ok((cid, serde_json::to_value(&msg)?))
    }
}

/// Correlation ids: 0 and u32::MAX first, then an odd-multiplier sequence (a bijection on u32,
/// so ids never repeat for the few thousand vectors we emit).
fn correlation_id(i: usize) -> u32 {
    match i {
        0 => 0,
        1 => u32::MAX,
        _ => (i as u32).wrapping_mul(0x9E37_79B1),
    }
}

/// Postcard writes the enum variant index as a LEB128 varint u32 before the fields.
pub fn leading_varint(bytes: &[u8]) -> Result<u32> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).context("variant index overflows u32");
        }
    }
    bail!("truncated or over-long varint at start of postcard output")
}

fn variant_name(value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Object(map) if map.len() == 1 => Ok(map.keys().next().cloned().unwrap_or_default()),
        other => bail!("unexpected serde shape for an enum: {other}"),
    }
}

/// Serializes every case, cross-checks it against the crate (variant index ⇔ declaration order,
/// wire = header + postcard, decode round trip) and asserts full variant coverage.
fn protocol_file<T: Message>(cases: Vec<Case<T>>, variants: &[&str]) -> Result<ProtocolFile> {
    let mut vectors = Vec::with_capacity(cases.len());
    let mut names = HashSet::new();
    let mut cids = HashSet::new();
    let mut covered = BTreeSet::new();

    for (i, Case { case, msg }) in cases.into_iter().enumerate() {
        let correlation_id = correlation_id(i);
        ensure!(
            cids.insert(correlation_id),
            "duplicate correlation id {correlation_id}"
        );

        let postcard = msg.postcard()?;
        let index = leading_varint(&postcard)?;
        let mut value = serde_json::to_value(&msg)?;
        let variant = variant_name(&value)?;
        ensure!(
            variants.get(index as usize) == Some(&variant.as_str()),
            "{variant}: postcard index {index} does not match declaration order ({:?})",
            variants.get(index as usize)
        );

        let wire = msg.wire(correlation_id)?;
        let mut expected_wire = vec![0u8];
        expected_wire.extend_from_slice(&correlation_id.to_be_bytes());
        expected_wire.extend_from_slice(&postcard);
        ensure!(
            wire == expected_wire,
            "{variant}/{case}: wire is not [0x00][cid BE][postcard]"
        );

        // Compared as JSON: serde_json's maps are ordered, so HashMap order cannot matter here.
        let (decoded_cid, decoded) =
            T::decode_wire(&wire).with_context(|| format!("{variant}/{case}: decode"))?;
        ensure!(
            decoded_cid == correlation_id,
            "{variant}/{case}: correlation id changed in round trip"
        );
        ensure!(decoded == value, "{variant}/{case}: decode(encode(x)) != x");

        make_js_safe(&mut value);
        let name = format!("{variant}/{case}");
        ensure!(names.insert(name.clone()), "duplicate vector name {name}");
        covered.insert(index);
        vectors.push(ProtocolVector {
            name,
            variant,
            index,
            correlation_id,
            value,
            postcard: to_hex(&postcard),
            wire: to_hex(&wire),
        });
    }

    let missing: Vec<&str> = (0..variants.len() as u32)
        .filter(|i| !covered.contains(i))
        .map(|i| variants[i as usize])
        .collect();
    ensure!(missing.is_empty(), "variants without a vector: {missing:?}");
    ensure!(
        covered.len() == variants.len(),
        "indexes outside 0..{}: {covered:?}",
        variants.len()
    );
    Ok(ProtocolFile {
        krate: CRATE_ID,
        vectors,
    })
}

/// A std `HashMap` (the protocol's field type) whose iteration order is the sorted key order.
///
/// `HashMap` iterates in an order derived from its per-instance random `RandomState`, so the
/// postcard bytes of a multi-entry map would differ per run. Each new `RandomState` has fresh
/// keys, so rebuilding until the order happens to be sorted costs ~n! attempts (keep n ≤ 5) and
/// makes the vectors reproducible, with maps encoded in ascending key order. Cloning a map keeps
/// its hasher and layout, hence its order.
pub fn sorted_map<K, V>(entries: Vec<(K, V)>) -> HashMap<K, V>
where
    K: Hash + Eq + Ord + Clone,
    V: Clone,
{
    let mut sorted = entries;
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for _ in 0..1_000_000 {
        let map: HashMap<K, V> = sorted.iter().cloned().collect();
        assert_eq!(map.len(), sorted.len(), "sorted_map: duplicate keys");
        if map.keys().zip(sorted.iter()).all(|(k, (s, _))| k == s) {
            return map;
        }
    }
    panic!(
        "sorted_map: no RandomState produced sorted order for {} keys",
        sorted.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint() {
        assert_eq!(leading_varint(&[0x00]).unwrap(), 0);
        assert_eq!(leading_varint(&[0x27, 0xff]).unwrap(), 39);
        assert_eq!(leading_varint(&[0x80, 0x01]).unwrap(), 128);
        assert!(leading_varint(&[0x80]).is_err());
    }

    #[test]
    fn correlation_ids_unique() {
        let ids: HashSet<u32> = (0..100_000).map(correlation_id).collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn sorted_map_iterates_sorted() {
        let m = sorted_map(vec![(3u32, ()), (1, ()), (2, ()), (0, ())]);
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(
            m.clone().keys().copied().collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
    }

    #[test]
    fn full_coverage() {
        protocol_file(requests::cases(), requests::VARIANTS).unwrap();
        protocol_file(responses::cases(), responses::VARIANTS).unwrap();
    }
}
