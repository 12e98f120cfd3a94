//! `rivven-rx-interop`: the Rust side of the rivven-rx test harness.
//!
//! * `broker`           — runs the real rivvend 0.0.22 server in-process (standalone, loopback only;
//!                        optional principals/RBAC and TLS/mTLS on the client port).
//! * `auth-check`       — scripted raw-frame client (plaintext or TLS) to probe auth/TLS behaviour.
//! * `vectors`          — writes golden vectors produced by the real rivven crates.
//! * `check-decompress` — feeds bytes produced by the TypeScript compressor to the real decompressor.
//! * `ping`             — tiny smoke client built on rivven-client (used to test `broker`).
//! * `schema-registry`  — runs the real rivven-schema 0.0.22 registry in-process (loopback only).
//! * `bench-produce`    — the Rust rivven-client Producer side of `npm run bench` (one JSON line).
//! * `bench-consume`, `bench-e2e`, `bench-codec` — the other Rust workloads of `npm run bench`.
//! * `produce-values`   — publishes given values through rivven-client's Producer with compression on.
//! * `sink`             — a measuring instrument for `npm run bench`, not a broker: answers produce
//!                        at once and consume from a pre-generated log (never used by tests).
//!
//! Everything a TypeScript test parses goes to stdout; diagnostics go to stderr.

mod auth_check;
mod bench;
mod bench_codec;
mod bench_consume;
mod broker;
mod check_decompress;
mod json_util;
mod ping;
mod produce_values;
mod prng;
mod schema_registry;
mod secure;
mod sink;
mod vectors;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "rivven-rx-interop",
    version,
    about = "Test harness for rivven-rx (rivven 0.0.22)"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the real rivvend broker in-process (standalone mode, bound to 127.0.0.1 only).
    #[command(after_help = secure::BROKER_AFTER_HELP)]
    Broker(broker::BrokerArgs),

    /// Write golden vectors (requests, responses, murmur2, compression) as JSON files.
    Vectors {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },

    /// Decompress TypeScript-produced payloads with rivven-core and compare with the expected bytes.
    CheckDecompress {
        /// JSON file: { "values": [ { "name", "compressed": hex, "expected": hex } ] }
        file: PathBuf,
    },

    /// Connect with rivven-client, handshake and ping (smoke test for `broker`).
    Ping(ping::PingArgs),

    /// Send a script of requests as raw Rivven frames (plaintext or TLS) and print each response.
    #[command(after_help = auth_check::AFTER_HELP)]
    AuthCheck(auth_check::AuthCheckArgs),

    /// Run the real rivven-schema registry in-process (Confluent REST API, in-memory, 127.0.0.1 only).
    SchemaRegistry(schema_registry::SchemaRegistryArgs),

    /// Producer throughput: send N records through rivven-client's Producer, print one JSON line.
    BenchProduce(bench::BenchProduceArgs),

    /// Consume throughput: read N records of a backlog with rivven-client's Consumer, print one JSON line.
    BenchConsume(bench_consume::BenchConsumeArgs),

    /// End-to-end latency: produce at a fixed rate and consume in one process, print one JSON line.
    BenchE2e(bench_consume::BenchE2eArgs),

    /// Codec speed: rivven-protocol's postcard encode of a PublishBatch and decode of Messages.
    BenchCodec(bench_codec::BenchCodecArgs),

    /// Publish the values of a JSON file through rivven-client's Producer with compression on; print offsets.
    ProduceValues(produce_values::ProduceValuesArgs),

    /// A measuring instrument, not a broker: answers produce at once and consume from a pre-generated
    /// in-memory log, so the bench sees what a client costs (never used by functional tests).
    #[command(after_help = sink::SINK_AFTER_HELP)]
    Sink(sink::SinkArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Broker(b) => {
            init_tracing();
            broker::run(b)
        }
        Command::Vectors { out } => match vectors::run(&out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vectors: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::CheckDecompress { file } => check_decompress::run(&file),
        Command::Ping(p) => {
            init_tracing();
            ping::run(p)
        }
        Command::AuthCheck(a) => {
            init_tracing();
            auth_check::run(a)
        }
        Command::SchemaRegistry(s) => {
            init_tracing();
            schema_registry::run(s)
        }
        Command::BenchProduce(b) => {
            init_tracing();
            bench::run(b)
        }
        Command::BenchConsume(b) => {
            init_tracing();
            bench_consume::run_consume(b)
        }
        Command::BenchE2e(b) => {
            init_tracing();
            bench_consume::run_e2e(b)
        }
        Command::BenchCodec(b) => bench_codec::run(b),
        Command::ProduceValues(p) => {
            init_tracing();
            produce_values::run(p)
        }
        Command::Sink(s) => sink::run(s),
    }
}

/// Logs go to stderr (stdout carries the READY line); `warn` unless RUST_LOG says otherwise.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
