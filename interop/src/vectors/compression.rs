//! Compression vectors from `rivven_core::compression` (header byte + optional size/CRC32 + payload).

use crate::json_util::to_hex;
use crate::prng::SplitMix64;
use anyhow::{ensure, Context, Result};
use rivven_core::compression::{
    CompressionAlgorithm, CompressionConfig, CompressionLevel, Compressor,
};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Named inputs, serialized as a JSON object in this order (not alphabetical).
pub struct Inputs(Vec<(&'static str, Vec<u8>)>);

impl Inputs {
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Serialize for Inputs {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, data) in &self.0 {
            map.serialize_entry(name, &to_hex(data))?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
pub struct CompressionFile {
    pub inputs: Inputs,
    pub vectors: Vec<CompressionVector>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompressionVector {
    pub name: String,
    pub input: &'static str,
    /// `compress_with`: the explicit algorithm; `compress`: the configured one.
    pub algorithm: &'static str,
    pub checksum: bool,
    pub min_size: usize,
    pub ratio_threshold: f32,
    pub adaptive: bool,
    pub level: &'static str,
    pub method: &'static str,
    /// Algorithm recorded in the output's flags byte (what actually happened).
    pub output_algorithm: &'static str,
    pub output: String,
}

const SENTENCES: &[&str] = &[
    "The quick brown fox jumps over the lazy dog. ",
    "Event streams carry orders, clicks and sensor readings from producers to consumers. ",
    "Each partition is an ordered, append-only log with monotonically increasing offsets. ",
    "Consumers commit offsets so that a restart resumes where the group left off. ",
    "Compression trades a little CPU for a lot less network and disk traffic. ",
];

/// English-ish text of exactly `len` bytes.
fn text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(SENTENCES[i % SENTENCES.len()].as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn inputs() -> Inputs {
    Inputs(vec![
        ("empty", Vec::new()),
        ("one_byte", b"A".to_vec()),
        // Either side of the default min_size (64).
        ("text_63", text(63)),
        ("text_64", text(64)),
        ("text_1k", text(1024)),
        ("text_100k", text(100 * 1024)),
        (
            "random_100k",
            SplitMix64::new(0xC0_4D_2E_55).bytes(100 * 1024),
        ),
    ])
}

fn config(
    algorithm: CompressionAlgorithm,
    checksum: bool,
    min_size: usize,
    adaptive: bool,
) -> CompressionConfig {
    CompressionConfig {
        algorithm,
        level: CompressionLevel::Default,
        min_size,
        ratio_threshold: CompressionConfig::default().ratio_threshold,
        adaptive,
        checksum,
    }
}

enum Method {
    Compress,
    CompressWith(CompressionAlgorithm),
}

struct Builder<'a> {
    inputs: &'a Inputs,
    vectors: Vec<CompressionVector>,
}

impl Builder<'_> {
    fn add(
        &mut self,
        name: String,
        input: &'static str,
        cfg: CompressionConfig,
        method: Method,
    ) -> Result<&CompressionVector> {
        let inputs: &Inputs = self.inputs;
        let data = &inputs
            .0
            .iter()
            .find(|(n, _)| *n == input)
            .context("unknown input")?
            .1;
        let compressor = Compressor::with_config(cfg.clone());
        let (output, algorithm, method_name) = match method {
            Method::Compress => (compressor.compress(data), cfg.algorithm, "compress"),
            Method::CompressWith(algo) => {
                (compressor.compress_with(data, algo), algo, "compress_with")
            }
        };
        let output = output.with_context(|| format!("{name}: compression failed"))?;
        let flags = *output.first().context("empty output")?;
        let output_algorithm = CompressionAlgorithm::from_flags(flags)?;

        // Every vector must decode with a default Compressor (what a consumer uses).
        let back = Compressor::new()
            .decompress(&output)
            .with_context(|| format!("{name}: decompress"))?;
        ensure!(back[..] == data[..], "{name}: decompress(compress(x)) != x");

        self.vectors.push(CompressionVector {
            name,
            input,
            algorithm: algorithm.name(),
            checksum: cfg.checksum,
            min_size: cfg.min_size,
            ratio_threshold: cfg.ratio_threshold,
            adaptive: cfg.adaptive,
            level: cfg.level.name(),
            method: method_name,
            output_algorithm: output_algorithm.name(),
            output: to_hex(&output),
        });
        Ok(self.vectors.last().expect("just pushed"))
    }
}

fn crc(checksum: bool) -> &'static str {
    if checksum {
        "crc"
    } else {
        "plain"
    }
}

pub fn file() -> Result<CompressionFile> {
    let inputs = inputs();
    let names: Vec<&'static str> = inputs.0.iter().map(|(n, _)| *n).collect();
    let mut b = Builder {
        inputs: &inputs,
        vectors: Vec::new(),
    };

    // 1. Every algorithm × checksum × input through compress_with, min_size 0: always encoded with
    //    the requested algorithm (None → flags 0x00/0x20, no size field), even for empty input.
    for algo in CompressionAlgorithm::ALL {
        for checksum in [false, true] {
            for &input in &names {
                let v = b.add(
                    format!("compress_with/{}/{}/{input}", algo.name(), crc(checksum)),
                    input,
                    config(algo, checksum, 0, false),
                    Method::CompressWith(algo),
                )?;
                ensure!(
                    v.output_algorithm == algo.name(),
                    "{}: algorithm not honoured",
                    v.name
                );
            }
        }
    }

    // 2. Below min_size (64): stored uncompressed by both methods.
    for checksum in [false, true] {
        for input in ["empty", "one_byte", "text_63"] {
            for (method, tag) in [
                (Method::Compress, "compress"),
                (
                    Method::CompressWith(CompressionAlgorithm::Lz4),
                    "compress_with",
                ),
            ] {
                let v = b.add(
                    format!("below_min_size/{tag}/lz4/{}/{input}", crc(checksum)),
                    input,
                    config(CompressionAlgorithm::Lz4, checksum, 64, false),
                    method,
                )?;
                ensure!(
                    v.output_algorithm == "none",
                    "{}: expected the uncompressed encoding",
                    v.name
                );
            }
        }
        // Exactly min_size: compression is attempted (the result may still fail the ratio test).
        b.add(
            format!("at_min_size/compress_with/lz4/{}/text_64", crc(checksum)),
            "text_64",
            config(CompressionAlgorithm::Lz4, checksum, 64, false),
            Method::CompressWith(CompressionAlgorithm::Lz4),
        )?;
        b.add(
            format!("at_min_size/compress/lz4/{}/text_64", crc(checksum)),
            "text_64",
            config(CompressionAlgorithm::Lz4, checksum, 64, false),
            Method::Compress,
        )?;
    }

    // 3. Ratio threshold: incompressible data via `compress` (adaptive off) is stored uncompressed;
    //    compressible text passes the threshold.
    for algo in [
        CompressionAlgorithm::Lz4,
        CompressionAlgorithm::Zstd,
        CompressionAlgorithm::Snappy,
    ] {
        for checksum in [false, true] {
            let v = b.add(
                format!(
                    "ratio_threshold/compress/{}/{}/random_100k",
                    algo.name(),
                    crc(checksum)
                ),
                "random_100k",
                config(algo, checksum, 64, false),
                Method::Compress,
            )?;
            ensure!(
                v.output_algorithm == "none",
                "{}: expected the uncompressed encoding",
                v.name
            );
            let v = b.add(
                format!(
                    "ratio_threshold/compress/{}/{}/text_1k",
                    algo.name(),
                    crc(checksum)
                ),
                "text_1k",
                config(algo, checksum, 64, false),
                Method::Compress,
            )?;
            ensure!(
                v.output_algorithm == algo.name(),
                "{}: expected {}",
                v.name,
                algo.name()
            );
        }
    }

    // 4. The default Compressor (LZ4 configured, adaptive selection, min_size 64, ratio 0.95).
    for &input in &names {
        b.add(
            format!("default/compress/{input}"),
            input,
            CompressionConfig::default(),
            Method::Compress,
        )?;
    }

    let vectors = b.vectors;
    let mut seen = std::collections::HashSet::new();
    for v in &vectors {
        ensure!(
            seen.insert(v.name.as_str()),
            "duplicate compression vector {}",
            v.name
        );
    }
    Ok(CompressionFile { inputs, vectors })
}
