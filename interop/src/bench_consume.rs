//! `bench-consume` and `bench-e2e`: the Rust rivven-client 0.0.22 side of the consume throughput
//! and end-to-end latency workloads of `npm run bench`. Each prints one JSON line on stdout.
//!
//! * `bench-consume` reads `--records` records from the start of every partition of an existing
//!   topic (the backlog the TS runner seeded) with `Consumer` on a static assignment (no group,
//!   no commits: both clients read the same backlog from offset 0), rivven-client's defaults
//!   (500 records per partition per poll). Timing runs from `Consumer::new` (connecting included,
//!   as on the TS side) to the `poll()` that brought the total to `--records`.
//! * `bench-e2e` sends `--records` records through a low-latency `Producer` at `--rate` records/s
//!   into partition 0 of a one-partition topic, while a `Consumer` in the same process reads them;
//!   each value starts with the send time (µs since the start, u64 LE), so the latency is
//!   receive time − send time on one clock. Percentiles as in `bench-produce --latency`.

use crate::bench::{cpu_delta, latency_summary, process_cpu_seconds, run_async};
use rivven_client::{Consumer, ConsumerConfig, ProducerConfig};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchConsumeArgs {
    /// Broker address, e.g. 127.0.0.1:9092
    #[arg(long)]
    addr: String,

    /// Topic to read (must exist and hold at least `records` records).
    #[arg(long)]
    topic: String,

    /// Number of partitions of the topic (all are assigned).
    #[arg(long)]
    partitions: u32,

    /// Stop after this many records.
    #[arg(long)]
    records: u64,
}

#[derive(clap::Args, Debug)]
pub struct BenchE2eArgs {
    /// Broker address, e.g. 127.0.0.1:9092
    #[arg(long)]
    addr: String,

    /// Topic (created with one partition if missing).
    #[arg(long)]
    topic: String,

    /// Number of records measured.
    #[arg(long)]
    records: u64,

    /// Send rate, records per second.
    #[arg(long)]
    rate: u64,

    /// Value size in bytes (at least 8).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
}

pub fn run_consume(args: BenchConsumeArgs) -> ExitCode {
    run_async("bench-consume", consume(&args))
}

pub fn run_e2e(args: BenchE2eArgs) -> ExitCode {
    run_async("bench-e2e", e2e(&args))
}

fn static_consumer_config(addr: &str, topic: &str, partitions: u32, group: &str) -> ConsumerConfig {
    ConsumerConfig::builder()
        .bootstrap_server(addr)
        .group_id(group)
        // rivven-client 0.0.22 reads `partitions` only for topics also listed in `topics`.
        .topic(topic)
        .assign(topic, (0..partitions).collect())
        .enable_auto_commit(false)
        .build()
}

async fn consume(args: &BenchConsumeArgs) -> Result<String, String> {
    let config = static_consumer_config(&args.addr, &args.topic, args.partitions, "bench-consume-rust");
    // The clock includes connecting (`Consumer::new`), as the TS side's includes its subscription.
    let cpu_start = process_cpu_seconds();
    let started = Instant::now();
    let mut consumer = Consumer::new(config)
        .await
        .map_err(|e| format!("Consumer::new: {e}"))?;
    let mut received = 0u64;
    let mut bytes = 0u64;
    let mut polls = 0u64;
    let deadline = started + Duration::from_secs(600);
    while received < args.records {
        if Instant::now() > deadline {
            return Err(format!("only {received} of {} records within 600 s", args.records));
        }
        let records = consumer.poll().await.map_err(|e| format!("poll: {e}"))?;
        polls += 1;
        for record in &records {
            bytes += record.data.value.len() as u64;
        }
        received += records.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_end = process_cpu_seconds();
    let _ = consumer.close().await;
    Ok(serde_json::json!({
        "records": received,
        "valueBytes": bytes,
        "seconds": seconds,
        "cpuSeconds": cpu_delta(cpu_start, cpu_end),
        "polls": polls,
    })
    .to_string())
}

/// Value carrying its send time (µs since `origin`) in the first 8 bytes, then a fixed pattern.
fn timed_value(origin: Instant, size: usize) -> bytes::Bytes {
    let mut value = vec![b'x'; size.max(8)];
    let micros = origin.elapsed().as_micros() as u64;
    value[..8].copy_from_slice(&micros.to_le_bytes());
    bytes::Bytes::from(value)
}

async fn e2e(args: &BenchE2eArgs) -> Result<String, String> {
    // Already existing is fine: the TS runner may have created it.
    let producer = crate::bench::ready_producer(&args.addr, &args.topic, Some(1), true, ProducerConfig::low_latency()).await?;
    let mut consumer = Consumer::new(static_consumer_config(&args.addr, &args.topic, 1, "bench-e2e-rust"))
        .await
        .map_err(|e| format!("Consumer::new: {e}"))?;

    let origin = Instant::now();
    let interval = Duration::from_micros(1_000_000 / args.rate.max(1));
    let count = args.records;
    let size = args.value_size;
    let topic = args.topic.clone();
    let producer_task = {
        let producer = producer.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sends = tokio::task::JoinSet::new();
            for _ in 0..count {
                ticker.tick().await;
                let producer = producer.clone();
                let topic = topic.clone();
                let value = timed_value(origin, size);
                sends.spawn(async move { producer.send(topic, value).await });
            }
            while let Some(joined) = sends.join_next().await {
                match joined {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(format!("send: {e}")),
                    Err(e) => return Err(format!("send task: {e}")),
                }
            }
            Ok::<(), String>(())
        })
    };

    let cpu_start = process_cpu_seconds();
    let mut micros: Vec<f64> = Vec::with_capacity(count as usize);
    let mut seen: HashMap<u64, ()> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while (micros.len() as u64) < count {
        if Instant::now() > deadline {
            return Err(format!("only {} of {count} records arrived within 300 s", micros.len()));
        }
        let records = consumer.poll().await.map_err(|e| format!("poll: {e}"))?;
        let now = origin.elapsed().as_micros() as f64;
        for record in records {
            let value = &record.data.value;
            if value.len() < 8 || seen.insert(record.offset, ()).is_some() {
                continue;
            }
            let mut stamp = [0u8; 8];
            stamp.copy_from_slice(&value[..8]);
            micros.push(now - u64::from_le_bytes(stamp) as f64);
        }
    }
    let seconds = origin.elapsed().as_secs_f64();
    let cpu_end = process_cpu_seconds();
    producer_task
        .await
        .map_err(|e| format!("producer task: {e}"))??;
    producer.close().await;
    let _ = consumer.close().await;
    Ok(serde_json::json!({
        "records": micros.len(),
        "seconds": seconds,
        "cpuSeconds": cpu_delta(cpu_start, cpu_end),
        "latencyMs": latency_summary(micros),
    })
    .to_string())
}
