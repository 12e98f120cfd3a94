//! `bench-codec`: rivven-protocol 0.0.22's postcard codec, timed, for the codec workload of
//! `npm run bench`. Encodes a `Request::PublishBatch` of `--records` × `--value-size` B to a wire
//! frame body (`to_wire`) and decodes a `Response::Messages` of `--records` records (`from_wire`),
//! each repeated for about `--millis` ms after a warm-up, and prints one JSON line:
//! `{"encode": {"seconds","iterations","wireBytes","mbPerSecond"}, "decode": {...}}`.
//!
//! MB/s = wire bytes processed / seconds / 10^6. The records and values are the same as the TS
//! side builds (`bench_value`; offsets from 0, timestamp 1,700,000,000,000 + index ms).

use crate::bench::{bench_value, run_async};
use rivven_protocol::{BatchRecord, MessageData, Request, Response, WireFormat};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct BenchCodecArgs {
    /// Records per batch / response.
    #[arg(long, default_value_t = 1000)]
    records: u64,

    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,

    /// Time to spend on each of encode and decode (after a warm-up of a quarter of it).
    #[arg(long, default_value_t = 1000)]
    millis: u64,
}

pub fn run(args: BenchCodecArgs) -> ExitCode {
    run_async("bench-codec", async { codec(&args) })
}

pub fn publish_batch(records: u64, value_size: usize) -> Request {
    Request::PublishBatch {
        topic: "bench-codec".to_string(),
        partition: Some(0),
        records: (0..records)
            .map(|i| BatchRecord {
                key: None,
                value: bytes::Bytes::from(bench_value(i, value_size)),
            })
            .collect(),
        leader_epoch: None,
    }
}

pub fn messages(records: u64, value_size: usize) -> Response {
    Response::Messages {
        messages: (0..records)
            .map(|i| MessageData {
                offset: i,
                partition: 0,
                key: None,
                value: bytes::Bytes::from(bench_value(i, value_size)),
                timestamp: 1_700_000_000_000 + i as i64,
                headers: Vec::new(),
            })
            .collect(),
    }
}

/// Run `op` repeatedly for about `millis` ms; returns (seconds, iterations).
fn time_loop(millis: u64, mut op: impl FnMut() -> Result<usize, String>) -> Result<(f64, u64), String> {
    let warmup = Instant::now();
    while warmup.elapsed().as_millis() < (millis / 4) as u128 {
        op()?;
    }
    let started = Instant::now();
    let mut iterations = 0u64;
    while started.elapsed().as_millis() < millis as u128 {
        op()?;
        iterations += 1;
    }
    Ok((started.elapsed().as_secs_f64(), iterations))
}

fn side(seconds: f64, iterations: u64, wire_bytes: usize) -> serde_json::Value {
    serde_json::json!({
        "seconds": seconds,
        "iterations": iterations,
        "wireBytes": wire_bytes,
        "mbPerSecond": (wire_bytes as f64 * iterations as f64) / seconds / 1e6,
        "microsPerOp": seconds * 1e6 / iterations as f64,
    })
}

fn codec(args: &BenchCodecArgs) -> Result<String, String> {
    let request = publish_batch(args.records, args.value_size);
    let request_wire = request
        .to_wire(WireFormat::Postcard, 1)
        .map_err(|e| format!("encode: {e}"))?;
    let (encode_seconds, encode_iterations) = time_loop(args.millis, || {
        let wire = black_box(&request)
            .to_wire(WireFormat::Postcard, 1)
            .map_err(|e| format!("encode: {e}"))?;
        Ok(black_box(wire).len())
    })?;

    let response_wire = messages(args.records, args.value_size)
        .to_wire(WireFormat::Postcard, 1)
        .map_err(|e| format!("encode response: {e}"))?;
    let (decode_seconds, decode_iterations) = time_loop(args.millis, || {
        let (response, _, _) = Response::from_wire(black_box(&response_wire)).map_err(|e| format!("decode: {e}"))?;
        match black_box(response) {
            Response::Messages { messages } => Ok(messages.len()),
            other => Err(format!("decoded {other:?}")),
        }
    })?;

    Ok(serde_json::json!({
        "records": args.records,
        "valueSize": args.value_size,
        "encode": side(encode_seconds, encode_iterations, request_wire.len()),
        "decode": side(decode_seconds, decode_iterations, response_wire.len()),
    })
    .to_string())
}
