//! `produce-values --addr A --topic T --compression C FILE`: publish the values in FILE through
//! rivven-client 0.0.22's `Producer` with compression on, as a Rust application would, all to
//! partition 0 (created with `--partitions 1` if asked).
//!
//! FILE is `{ "values": [hex, …] }`. The Producer frames each value with its own
//! `rivven_core::compression::Compressor` (the client's config: the chosen algorithm, adaptive
//! selection, values under 64 bytes and values that do not shrink stored as `[0x00][data]`).
//! Prints one JSON line on stdout: `{ "offsets": [u64, …], "framed": [hex, …] }` — where value `i`
//! landed, and the bytes a Compressor with the Producer's config writes for it (what the broker
//! should now hold).

use crate::bench::{ready_producer, run_async};
use crate::json_util::{from_hex, to_hex};
use rivven_client::{CompressionType, ProducerConfig};
use rivven_core::compression::{CompressionConfig, Compressor};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ProduceValuesArgs {
    /// Broker address, e.g. 127.0.0.1:9092
    #[arg(long)]
    addr: String,

    /// Topic to produce to (partition 0).
    #[arg(long)]
    topic: String,

    /// Producer compression: lz4, zstd, snappy or none.
    #[arg(long)]
    compression: String,

    /// Create the topic with this many partitions first (otherwise it must exist).
    #[arg(long)]
    partitions: Option<u32>,

    /// JSON file: { "values": [hex, …] }
    file: PathBuf,
}

#[derive(Deserialize)]
struct Input {
    values: Vec<String>,
}

pub fn run(args: ProduceValuesArgs) -> ExitCode {
    run_async("produce-values", produce(args))
}

fn compression_type(name: &str) -> Result<CompressionType, String> {
    match name {
        "lz4" => Ok(CompressionType::Lz4),
        "zstd" => Ok(CompressionType::Zstd),
        "snappy" => Ok(CompressionType::Snappy),
        "none" => Ok(CompressionType::None),
        other => Err(format!("unknown --compression '{other}': use lz4, zstd, snappy or none")),
    }
}

async fn produce(args: ProduceValuesArgs) -> Result<String, String> {
    let compression = compression_type(&args.compression)?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let input: Input = serde_json::from_str(&text).map_err(|e| format!("{} is not a values file: {e}", args.file.display()))?;
    let values: Vec<bytes::Bytes> = input
        .values
        .iter()
        .enumerate()
        .map(|(i, hex)| from_hex(hex).map(bytes::Bytes::from).map_err(|e| format!("value {i}: {e}")))
        .collect::<Result<_, _>>()?;

    // The same Compressor the Producer builds for itself (rivven-client producer.rs, `Producer::new`).
    let framed: Vec<String> = if compression == CompressionType::None {
        values.iter().map(|v| to_hex(v)).collect()
    } else {
        let algorithm = compression.to_algorithm().map_err(|e| e.to_string())?;
        let compressor = Compressor::with_config(CompressionConfig {
            algorithm,
            ..CompressionConfig::default()
        });
        values
            .iter()
            .map(|v| compressor.compress(v).map(|b| to_hex(&b)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?
    };

    // Batched (the high-throughput preset lingers): one record per request would cost rivvend's
    // ~40 ms delayed-ACK stall per record.
    let preset = ProducerConfig {
        compression_type: compression,
        ..ProducerConfig::high_throughput()
    };
    let producer = ready_producer(&args.addr, &args.topic, args.partitions, false, preset).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, value) in values.into_iter().enumerate() {
        let producer = producer.clone();
        let topic = args.topic.clone();
        tasks.spawn(async move { (index, producer.send_to_partition(topic, 0, None::<bytes::Bytes>, value).await) });
    }
    let mut offsets = vec![u64::MAX; tasks.len()];
    let mut first_error: Option<String> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Ok(metadata))) => offsets[index] = metadata.offset,
            Ok((index, Err(e))) => {
                first_error.get_or_insert_with(|| format!("send of value {index}: {e}"));
            }
            Err(e) => {
                first_error.get_or_insert_with(|| format!("send task: {e}"));
            }
        }
    }
    producer.flush().await.map_err(|e| format!("flush: {e}"))?;
    producer.close().await;
    if let Some(error) = first_error {
        return Err(error);
    }
    Ok(serde_json::json!({ "offsets": offsets, "framed": framed }).to_string())
}
