//! `bench-produce`: the Rust side of the producer throughput benchmark (`npm run bench`).
//!
//! Sends `--records` keyless records of `--value-size` bytes to `--topic` through rivven-client
//! 0.0.22's `Producer` with `ProducerConfig::high_throughput()` (the preset our TypeScript
//! `ProducerPresets.highThroughput` mirrors), waits for every acknowledgement, and prints one JSON
//! line on stdout: `{"records","acked","seconds","cpuSeconds","batches"}`.
//!
//! Timing starts at the first send and ends when the last send has its acknowledgement and
//! `flush()` returned. Connecting and the first metadata fetch happen before (as in the TS runner).
//! `cpuSeconds` is this process's user+system CPU over the same interval (`process_cpu_seconds`:
//! the process CPU clock, nanoseconds; /proc/self/stat's 10 ms ticks elsewhere); `null` if neither.
//!
//! The values are the same bytes the TypeScript runner sends (see `bench_value`).
//!
//! With `--latency` it runs the closed-loop latency workload instead: `ProducerConfig::low_latency()`,
//! one record at a time (the next send starts when the previous one is acknowledged), and adds
//! `"latencyMs": {"p50","p99","p999","mean","max"}` to the line. `--warmup` records go first, off
//! the clock.

use rivven_client::{Client, Producer, ProducerConfig};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchProduceArgs {
    /// Broker address, e.g. 127.0.0.1:9092
    #[arg(long)]
    addr: String,

    /// Topic to produce to.
    #[arg(long)]
    topic: String,

    /// Number of records.
    #[arg(long)]
    records: u64,

    /// Value size in bytes.
    #[arg(long)]
    value_size: usize,

    /// Create the topic with this many partitions first (otherwise it must exist).
    #[arg(long)]
    partitions: Option<u32>,

    /// Closed-loop latency (low-latency preset, one record in flight) instead of throughput.
    #[arg(long)]
    latency: bool,

    /// Records sent before the clock starts (latency mode only).
    #[arg(long, default_value_t = 20)]
    warmup: u64,
}

pub fn run(args: BenchProduceArgs) -> ExitCode {
    if args.latency {
        run_async("bench-produce", latency(&args))
    } else {
        run_async("bench-produce", bench(&args))
    }
}

/// Run one bench future on a multi-threaded runtime; print its JSON line or the error.
pub fn run_async<F>(name: &str, work: F) -> ExitCode
where
    F: std::future::Future<Output = Result<String, String>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Percentiles (nearest rank) of latencies in microseconds, as milliseconds; the same method
/// as `percentile` in bench/lib/stats.mjs.
pub fn latency_summary(mut micros: Vec<f64>) -> serde_json::Value {
    if micros.is_empty() {
        return serde_json::Value::Null;
    }
    micros.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let rank = |p: f64| {
        let index = ((p / 100.0) * micros.len() as f64).ceil() as usize;
        micros[index.clamp(1, micros.len()) - 1] / 1000.0
    };
    let mean = micros.iter().sum::<f64>() / micros.len() as f64 / 1000.0;
    serde_json::json!({
        "p50": rank(50.0),
        "p99": rank(99.0),
        "p999": rank(99.9),
        "mean": mean,
        "max": micros[micros.len() - 1] / 1000.0,
        "samples": micros.len(),
    })
}

/// CPU seconds between two readings, or JSON null.
pub fn cpu_delta(start: Option<f64>, end: Option<f64>) -> serde_json::Value {
    match (start, end) {
        (Some(a), Some(b)) => serde_json::json!(b - a),
        _ => serde_json::Value::Null,
    }
}

/// Create the topic when `partitions` is given (an existing one is an error unless `tolerate_existing`),
/// then a producer on `preset` with its metadata cache warmed (connect and first metadata fetch stay
/// off the clock, as in the TS runner).
pub async fn ready_producer(
    addr: &str,
    topic: &str,
    partitions: Option<u32>,
    tolerate_existing: bool,
    preset: ProducerConfig,
) -> Result<Producer, String> {
    if let Some(partitions) = partitions {
        let mut client = Client::connect_with_timeout(addr, Duration::from_secs(5))
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let created = client.create_topic(topic.to_string(), Some(partitions)).await;
        if let Err(e) = created {
            if !tolerate_existing {
                return Err(format!("create_topic {topic}: {e}"));
            }
        }
    }
    let producer = Producer::new(ProducerConfig {
        bootstrap_servers: vec![addr.to_string()],
        ..preset
    })
    .await
    .map_err(|e| format!("Producer::new: {e}"))?;
    producer
        .get_partition_count(topic)
        .await
        .map_err(|e| format!("metadata for {topic}: {e}"))?;
    Ok(producer)
}

async fn latency(args: &BenchProduceArgs) -> Result<String, String> {
    let producer = ready_producer(&args.addr, &args.topic, args.partitions, false, ProducerConfig::low_latency()).await?;
    for i in 0..args.warmup {
        producer
            .send(args.topic.clone(), bytes::Bytes::from(bench_value(i, args.value_size)))
            .await
            .map_err(|e| format!("warm-up send: {e}"))?;
    }
    let values: Vec<bytes::Bytes> = (0..args.records)
        .map(|i| bytes::Bytes::from(bench_value(i, args.value_size)))
        .collect();
    let mut micros = Vec::with_capacity(values.len());
    let cpu_start = process_cpu_seconds();
    let started = Instant::now();
    for value in values {
        let sent = Instant::now();
        producer
            .send(args.topic.clone(), value)
            .await
            .map_err(|e| format!("send: {e}"))?;
        micros.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_end = process_cpu_seconds();
    producer.close().await;
    Ok(serde_json::json!({
        "records": args.records,
        "acked": micros.len(),
        "valueSize": args.value_size,
        "seconds": seconds,
        "cpuSeconds": cpu_delta(cpu_start, cpu_end),
        "latencyMs": latency_summary(micros),
    })
    .to_string())
}

/// Value of record `index`: its decimal index, then a repeating lowercase pattern, `size` bytes.
/// Must match `benchValue` in bench/produce-throughput.mjs.
pub fn bench_value(index: u64, size: usize) -> Vec<u8> {
    let mut value = format!("{index}:").into_bytes();
    let mut i = 0usize;
    while value.len() < size {
        value.push(b'a' + ((index as usize + i * 7) % 26) as u8);
        i += 1;
    }
    value.truncate(size);
    value
}

/// User + system CPU seconds of this process (all threads, exited ones included): from
/// `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)` (nanoseconds) on Linux, else /proc/self/stat (clock
/// ticks, assumed 100 Hz: 10 ms resolution, too coarse for the sink rows' short runs).
pub fn process_cpu_seconds() -> Option<f64> {
    process_cpu_clock().or_else(process_cpu_stat)
}

#[cfg(target_os = "linux")]
fn process_cpu_clock() -> Option<f64> {
    // Declared here rather than through the `libc` crate, which is not a direct dependency.
    #[repr(C)]
    struct Timespec {
        tv_sec: std::os::raw::c_long,
        tv_nsec: std::os::raw::c_long,
    }
    extern "C" {
        fn clock_gettime(clock_id: std::os::raw::c_int, tp: *mut Timespec) -> std::os::raw::c_int;
    }
    const CLOCK_PROCESS_CPUTIME_ID: std::os::raw::c_int = 2;
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (time_t and long are c_long on Linux).
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

#[cfg(not(target_os = "linux"))]
fn process_cpu_clock() -> Option<f64> {
    None
}

fn process_cpu_stat() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; the fields after it start past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

async fn bench(args: &BenchProduceArgs) -> Result<String, String> {
    let producer = ready_producer(&args.addr, &args.topic, args.partitions, false, ProducerConfig::high_throughput()).await?;

    let values: Vec<bytes::Bytes> = (0..args.records)
        .map(|i| bytes::Bytes::from(bench_value(i, args.value_size)))
        .collect();

    let cpu_start = process_cpu_seconds();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for value in values {
        let producer = producer.clone();
        let topic = args.topic.clone();
        tasks.spawn(async move { producer.send(topic, value).await });
    }
    let mut acked = 0u64;
    let mut first_error: Option<String> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(_)) => acked += 1,
            Ok(Err(e)) => {
                first_error.get_or_insert_with(|| format!("send: {e}"));
            }
            Err(e) => {
                first_error.get_or_insert_with(|| format!("send task: {e}"));
            }
        }
    }
    producer.flush().await.map_err(|e| format!("flush: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_end = process_cpu_seconds();
    let batches = producer.stats().batches_sent;
    producer.close().await;

    if let Some(error) = first_error {
        return Err(format!("{} of {} records failed; first: {error}", args.records - acked, args.records));
    }
    let cpu = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) => serde_json::json!(b - a),
        _ => serde_json::Value::Null,
    };
    Ok(serde_json::json!({
        "records": args.records,
        "acked": acked,
        "valueSize": args.value_size,
        "seconds": seconds,
        "cpuSeconds": cpu,
        "batches": batches,
    })
    .to_string())
}
