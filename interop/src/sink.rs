//! `sink`: a **measuring instrument**, not a broker. It speaks the real rivven-protocol 0.0.22 wire
//! (`rivven_protocol::Request` / `Response`, postcard, the same frames as rivvend) and answers at
//! once, so a client talking to it is limited by its own CPU instead of rivvend's per-record WAL
//! commit (~1.5 ms per record per connection). `npm run bench` points the TypeScript and the Rust
//! clients at one sink for its `sink …` rows. It is never used by functional tests: nothing it says
//! about durability, ordering across connections or errors is rivvend's behaviour.
//!
//! What it answers (everything else is `UNSUPPORTED: …`):
//! * `Handshake` (compatible when the version is `PROTOCOL_VERSION`), `Ping`, `GetMetadata`,
//!   `ListTopics`, `CreateTopic`, `DeleteTopic`, `GetClusterMetadata` (no brokers, no topics, as
//!   standalone rivvend), `GetOffset` (always none: nothing is committed), `CommitOffset`
//!   (accepted, not kept), `GetOffsetBounds`, `GetOffsetForTimestamp` (none).
//! * `Publish`, `PublishBatch`, `IdempotentPublish`, `IdempotentPublishBatch`: answered at once
//!   with increasing offsets per partition (a batch's records are contiguous). Nothing is written
//!   anywhere; only the last `--keep` records of each partition stay in memory, because the
//!   rivven-rx producer reads a batch back before it acknowledges it (its answer to rivvend's
//!   non-contiguous batches) and must find it. `InitProducerId` and the sequence checks follow
//!   rivven-core 0.0.22's `idempotent.rs` (state per producer id and partition *number*; a
//!   duplicate answers the offset cached for the base sequence, else the last offset; a gap is
//!   `OUT_OF_ORDER_SEQUENCE`, an older epoch `PRODUCER_FENCED`, an unknown id `UNKNOWN_PRODUCER_ID`).
//! * `Consume`: from the partition's records in memory. The log topic (`--log-topic`) is
//!   pre-generated: `--log-records` records of `--value-size` bytes spread round-robin over
//!   `--partitions` partitions (record *i* is `bench_value(i)`, the bench's values, timestamp
//!   1,700,000,000,000 + *i* ms); it is read-only. At the end of a partition a long-poll
//!   (`max_wait_ms`) waits its time (capped at 30 s, as rivvend) and answers empty; records
//!   published meanwhile are not noticed before the wait ends.
//!
//! Like rivvend, one connection's requests are answered in order; unlike it, the sink sets
//! TCP_NODELAY and writes each reply in one piece (so no client waits for a delayed ACK), and
//! writes the replies of pipelined requests together. It runs on one thread by default
//! (`--threads`), to leave the machine's other cores to the client being measured.
//!
//! Prints `READY 127.0.0.1:<port>` on stdout once it accepts connections.

use crate::bench::bench_value;
use bytes::Bytes;
use rivven_protocol::{BatchRecord, MessageData, Request, Response, WireFormat, MAX_MESSAGE_SIZE, PROTOCOL_VERSION};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

pub const SINK_AFTER_HELP: &str = "\
The sink is a MEASURING INSTRUMENT for `npm run bench` (its `sink ...` rows), not a broker: it \
answers produce requests at once without storing them (it keeps only the last --keep records per \
partition, so that a producer that reads its batches back finds them) and serves Consume from a \
pre-generated in-memory log. It shows what a client costs when the broker costs nothing. Never use \
it for functional tests: rivvend 0.0.22 (`broker`) is the only truth about the broker's behaviour.";

/// Cap on the records of one Consume answer (rivvend's `MAX_MESSAGES_LIMIT`).
const MAX_MESSAGES_LIMIT: usize = 10_000;
/// Stop filling a Consume answer past this many bytes, well under `MAX_MESSAGE_SIZE`.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// rivven-core's `SEQUENCE_CACHE_SIZE`: (sequence, offset) pairs kept per producer and partition.
const SEQUENCE_CACHE_SIZE: usize = 5;
/// First timestamp of the pre-generated log (the codec bench's too).
const LOG_TIMESTAMP_BASE: i64 = 1_700_000_000_000;

#[derive(clap::Args, Debug)]
pub struct SinkArgs {
    /// Port on 127.0.0.1 (0 = a free one; the READY line tells which).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Name of the pre-generated, read-only topic that Consume is measured on.
    #[arg(long, default_value = "sink-log")]
    log_topic: String,

    /// Records in the pre-generated log (spread round-robin over its partitions).
    #[arg(long, default_value_t = 100_000)]
    log_records: u64,

    /// Value size of the pre-generated records, in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,

    /// Partitions of the log topic, and of topics created without a count or first named by a request.
    #[arg(long, default_value_t = 3)]
    partitions: u32,

    /// Published records kept per partition (the newest), for producers that read their batches back.
    #[arg(long, default_value_t = 16_384)]
    keep: usize,

    /// Runtime threads (1: a current-thread runtime, the lightest).
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Exit when stdin reaches EOF, so a dead parent leaves no orphan.
    #[arg(long)]
    exit_on_stdin_eof: bool,
}

/// One partition: the next offset and the records still in memory (contiguous offsets, ending
/// just before `next_offset`).
struct Partition {
    next_offset: u64,
    records: VecDeque<MessageData>,
}

impl Partition {
    fn empty() -> Self {
        Partition { next_offset: 0, records: VecDeque::new() }
    }

    fn earliest(&self) -> u64 {
        self.records.front().map_or(self.next_offset, |m| m.offset)
    }
}

struct Topic {
    partitions: Vec<Partition>,
    read_only: bool,
}

/// rivven-core `PartitionProducerState`.
struct SequenceState {
    last_sequence: i32,
    last_offset: u64,
    recent: VecDeque<(i32, u64)>,
}

/// rivven-core `ProducerMetadata`: epoch and sequence state per partition number, whatever the topic.
struct ProducerState {
    epoch: u16,
    partitions: HashMap<u32, SequenceState>,
}

enum SequenceCheck {
    Valid,
    Duplicate(u64),
    Refused(String),
}

struct Sink {
    topics: Mutex<HashMap<String, Topic>>,
    producers: Mutex<HashMap<u64, ProducerState>>,
    next_producer_id: AtomicU64,
    default_partitions: u32,
    keep: usize,
}

/// A reply now, or after waiting (an empty long-poll).
enum Answer {
    Now(Response),
    After(Duration, Response),
}

fn error(message: impl Into<String>) -> Response {
    Response::Error { message: message.into() }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Sink {
    fn new(args: &SinkArgs) -> Self {
        let partitions = args.partitions.max(1);
        let mut log: Vec<Partition> = (0..partitions).map(|_| Partition::empty()).collect();
        let value_size = args.value_size;
        for i in 0..args.log_records {
            let p = (i % partitions as u64) as usize;
            let part = &mut log[p];
            part.records.push_back(MessageData {
                offset: part.next_offset,
                partition: p as u32,
                key: None,
                value: Bytes::from(bench_value(i, value_size)),
                timestamp: LOG_TIMESTAMP_BASE + i as i64,
                headers: Vec::new(),
            });
            part.next_offset += 1;
        }
        let mut topics = HashMap::new();
        topics.insert(args.log_topic.clone(), Topic { partitions: log, read_only: true });
        Sink {
            topics: Mutex::new(topics),
            producers: Mutex::new(HashMap::new()),
            next_producer_id: AtomicU64::new(1),
            default_partitions: partitions,
            keep: args.keep.max(1),
        }
    }

    fn topic_name_ok(name: &str) -> Result<(), Response> {
        if name.is_empty() || name.len() > 255 {
            return Err(error(format!("INVALID_TOPIC_NAME: '{name}'")));
        }
        Ok(())
    }

    /// A topic's partition count, creating the topic (default partitions) when first named.
    fn partition_count(&self, topic: &str) -> u32 {
        let mut topics = self.topics.lock().unwrap();
        let default = self.default_partitions;
        let t = topics.entry(topic.to_string()).or_insert_with(|| Topic {
            partitions: (0..default).map(|_| Partition::empty()).collect(),
            read_only: false,
        });
        t.partitions.len() as u32
    }

    /// No partition named: the next one round-robin (by the records published so far).
    fn round_robin(t: &Topic) -> u32 {
        (t.partitions.iter().map(|p| p.next_offset).sum::<u64>() % t.partitions.len() as u64) as u32
    }

    fn pick_partition(&self, topic: &str) -> u32 {
        self.partition_count(topic);
        Self::round_robin(&self.topics.lock().unwrap()[topic])
    }

    /// Append records to a partition (chosen round-robin by offset when none is given); returns
    /// (partition, base offset).
    fn append(&self, topic: &str, partition: Option<u32>, records: Vec<BatchRecord>) -> Result<(u32, u64), Response> {
        Self::topic_name_ok(topic)?;
        let count = self.partition_count(topic);
        let mut topics = self.topics.lock().unwrap();
        let t = topics.get_mut(topic).expect("created above");
        if t.read_only {
            return Err(error(format!("UNSUPPORTED: '{topic}' is the sink's read-only log topic")));
        }
        let p = match partition {
            Some(p) if p < count => p,
            Some(p) => return Err(error(format!("INVALID_PARTITION: partition {p} of {count}"))),
            None => Self::round_robin(t),
        };
        let part = &mut t.partitions[p as usize];
        let base = part.next_offset;
        let timestamp = now_millis();
        for record in records {
            part.records.push_back(MessageData {
                offset: part.next_offset,
                partition: p,
                key: record.key,
                value: record.value,
                timestamp,
                headers: Vec::new(),
            });
            part.next_offset += 1;
        }
        while part.records.len() > self.keep {
            part.records.pop_front();
        }
        Ok((p, base))
    }

    /// rivven-core `ProducerMetadata::validate_sequence`.
    fn check_sequence(&self, producer_id: u64, epoch: u16, partition: u32, sequence: i32) -> SequenceCheck {
        let mut producers = self.producers.lock().unwrap();
        let Some(producer) = producers.get_mut(&producer_id) else {
            return SequenceCheck::Refused(format!("UNKNOWN_PRODUCER_ID: producer {producer_id} not initialized"));
        };
        if epoch < producer.epoch {
            return SequenceCheck::Refused(format!("PRODUCER_FENCED: current epoch {}, received {epoch}", producer.epoch));
        }
        if epoch > producer.epoch {
            producer.epoch = epoch;
            producer.partitions.clear();
        }
        match producer.partitions.get(&partition) {
            Some(state) => {
                let expected = state.last_sequence.wrapping_add(1);
                if sequence == expected {
                    SequenceCheck::Valid
                } else if sequence <= state.last_sequence {
                    let cached = state.recent.iter().find(|(s, _)| *s == sequence).map_or(state.last_offset, |(_, o)| *o);
                    SequenceCheck::Duplicate(cached)
                } else {
                    SequenceCheck::Refused(format!("OUT_OF_ORDER_SEQUENCE: expected {expected}, got {sequence}"))
                }
            }
            None if sequence == 0 => SequenceCheck::Valid,
            None => SequenceCheck::Refused(format!("OUT_OF_ORDER_SEQUENCE: expected 0, got {sequence}")),
        }
    }

    /// rivven-core `record_produce` for each record of an accepted batch.
    fn record_sequences(&self, producer_id: u64, epoch: u16, partition: u32, base_sequence: i32, base_offset: u64, count: usize) {
        let mut producers = self.producers.lock().unwrap();
        let Some(producer) = producers.get_mut(&producer_id) else { return };
        if producer.epoch != epoch {
            return;
        }
        for i in 0..count {
            let sequence = base_sequence.wrapping_add(i as i32);
            let offset = base_offset + i as u64;
            let state = producer.partitions.entry(partition).or_insert_with(|| SequenceState {
                last_sequence: sequence,
                last_offset: offset,
                recent: VecDeque::new(),
            });
            state.last_sequence = sequence;
            state.last_offset = offset;
            state.recent.push_back((sequence, offset));
            if state.recent.len() > SEQUENCE_CACHE_SIZE {
                state.recent.pop_front();
            }
        }
    }

    fn idempotent_batch(
        &self,
        topic: &str,
        partition: Option<u32>,
        records: Vec<BatchRecord>,
        producer_id: u64,
        epoch: u16,
        base_sequence: i32,
    ) -> Result<(u32, u64, u32, bool), Response> {
        Self::topic_name_ok(topic)?;
        let count = records.len();
        // rivvend picks the partition before checking the sequence; the clients always name it.
        let p = match partition {
            Some(p) => p,
            None => self.pick_partition(topic),
        };
        if count == 0 {
            return Ok((0, 0, 0, false));
        }
        match self.check_sequence(producer_id, epoch, p, base_sequence) {
            SequenceCheck::Refused(message) => Err(error(message)),
            SequenceCheck::Duplicate(offset) => Ok((p, offset, count as u32, true)),
            SequenceCheck::Valid => {
                let (p, base) = self.append(topic, Some(p), records)?;
                self.record_sequences(producer_id, epoch, p, base_sequence, base, count);
                Ok((p, base, count as u32, false))
            }
        }
    }

    fn consume(&self, topic: &str, partition: u32, offset: u64, max_messages: u32, max_wait_ms: Option<u64>) -> Answer {
        if let Err(e) = Self::topic_name_ok(topic) {
            return Answer::Now(e);
        }
        let count = self.partition_count(topic);
        if partition >= count {
            return Answer::Now(error(format!("INVALID_PARTITION: partition {partition} of {count}")));
        }
        let topics = self.topics.lock().unwrap();
        let part = &topics[topic].partitions[partition as usize];
        let max = (max_messages as usize).min(MAX_MESSAGES_LIMIT);
        let earliest = part.earliest();
        let from = offset.max(earliest);
        let mut messages = Vec::new();
        if from < part.next_offset && max > 0 {
            let start = (from - earliest) as usize;
            let mut bytes = 0usize;
            for m in part.records.range(start..).take(max) {
                bytes += m.value.len() + m.key.as_ref().map_or(0, |k| k.len()) + 32;
                if bytes > MAX_ANSWER_BYTES && !messages.is_empty() {
                    break;
                }
                messages.push(m.clone());
            }
        }
        let wait = max_wait_ms.unwrap_or(0).min(30_000);
        if messages.is_empty() && wait > 0 {
            return Answer::After(Duration::from_millis(wait), Response::Messages { messages });
        }
        Answer::Now(Response::Messages { messages })
    }

    fn bounds(&self, topic: &str, partition: u32) -> Response {
        let count = self.partition_count(topic);
        if partition >= count {
            return error(format!("Partition {partition} not found for topic '{topic}'"));
        }
        let topics = self.topics.lock().unwrap();
        let part = &topics[topic].partitions[partition as usize];
        Response::OffsetBounds { earliest: part.earliest(), latest: part.next_offset }
    }

    #[allow(deprecated)]
    fn answer(&self, request: Request) -> Answer {
        let response = match request {
            Request::Handshake { protocol_version, .. } => {
                let compatible = protocol_version == PROTOCOL_VERSION;
                Response::HandshakeResult {
                    server_version: PROTOCOL_VERSION,
                    compatible,
                    message: if compatible {
                        "OK".to_string()
                    } else {
                        format!("Version mismatch: client={protocol_version}, server={PROTOCOL_VERSION}")
                    },
                }
            }
            Request::Ping => Response::Pong,
            Request::GetMetadata { topic } => match Self::topic_name_ok(&topic) {
                Ok(()) => {
                    let partitions = self.partition_count(&topic);
                    Response::Metadata { name: topic, partitions }
                }
                Err(e) => e,
            },
            Request::GetClusterMetadata { .. } => Response::ClusterMetadata { controller_id: None, brokers: Vec::new(), topics: Vec::new() },
            Request::ListTopics => {
                let mut topics: Vec<String> = self.topics.lock().unwrap().keys().cloned().collect();
                topics.sort();
                Response::Topics { topics }
            }
            Request::CreateTopic { name, partitions } => {
                if let Err(e) = Self::topic_name_ok(&name) {
                    return Answer::Now(e);
                }
                let partitions = partitions.unwrap_or(self.default_partitions);
                if partitions == 0 || partitions > 1000 {
                    return Answer::Now(error(format!("INVALID_PARTITION_COUNT: must be between 1 and 1000, got {partitions}")));
                }
                let mut topics = self.topics.lock().unwrap();
                if topics.contains_key(&name) {
                    error(format!("Topic '{name}' already exists"))
                } else {
                    topics.insert(
                        name.clone(),
                        Topic { partitions: (0..partitions).map(|_| Partition::empty()).collect(), read_only: false },
                    );
                    Response::TopicCreated { name, partitions }
                }
            }
            Request::DeleteTopic { name } => {
                let mut topics = self.topics.lock().unwrap();
                match topics.get(&name) {
                    Some(t) if t.read_only => error(format!("UNSUPPORTED: '{name}' is the sink's read-only log topic")),
                    Some(_) => {
                        topics.remove(&name);
                        Response::TopicDeleted
                    }
                    None => error(format!("Topic not found: {name}")),
                }
            }
            Request::GetOffset { .. } => Response::Offset { offset: None },
            Request::CommitOffset { .. } => Response::OffsetCommitted,
            Request::GetOffsetBounds { topic, partition } => self.bounds(&topic, partition),
            Request::GetOffsetForTimestamp { .. } => Response::OffsetForTimestamp { offset: None },
            Request::Publish { topic, partition, key, value, .. } => {
                match self.append(&topic, partition, vec![BatchRecord { key, value }]) {
                    Ok((partition, offset)) => Response::Published { offset, partition },
                    Err(e) => e,
                }
            }
            Request::PublishBatch { topic, partition, records, .. } => {
                if records.is_empty() {
                    return Answer::Now(Response::PublishedBatch { base_offset: 0, partition: 0, record_count: 0 });
                }
                let record_count = records.len() as u32;
                match self.append(&topic, partition, records) {
                    Ok((partition, base_offset)) => Response::PublishedBatch { base_offset, partition, record_count },
                    Err(e) => e,
                }
            }
            Request::InitProducerId { producer_id } => {
                let mut producers = self.producers.lock().unwrap();
                match producer_id {
                    Some(pid) => {
                        let epoch = match producers.get_mut(&pid) {
                            Some(p) => {
                                p.epoch = p.epoch.wrapping_add(1);
                                p.partitions.clear();
                                p.epoch
                            }
                            None => {
                                producers.insert(pid, ProducerState { epoch: 0, partitions: HashMap::new() });
                                0
                            }
                        };
                        Response::ProducerIdInitialized { producer_id: pid, producer_epoch: epoch }
                    }
                    None => {
                        let pid = self.next_producer_id.fetch_add(1, Ordering::SeqCst);
                        producers.insert(pid, ProducerState { epoch: 0, partitions: HashMap::new() });
                        Response::ProducerIdInitialized { producer_id: pid, producer_epoch: 0 }
                    }
                }
            }
            Request::IdempotentPublish { topic, partition, key, value, producer_id, producer_epoch, sequence, .. } => {
                match self.idempotent_batch(&topic, partition, vec![BatchRecord { key, value }], producer_id, producer_epoch, sequence) {
                    Ok((partition, offset, _, duplicate)) => Response::IdempotentPublished { offset, partition, duplicate },
                    Err(e) => e,
                }
            }
            Request::IdempotentPublishBatch { topic, partition, records, producer_id, producer_epoch, base_sequence, .. } => {
                match self.idempotent_batch(&topic, partition, records, producer_id, producer_epoch, base_sequence) {
                    Ok((partition, base_offset, record_count, duplicate)) => {
                        Response::IdempotentPublishedBatch { base_offset, partition, record_count, duplicate }
                    }
                    Err(e) => e,
                }
            }
            Request::Consume { topic, partition, offset, max_messages, max_wait_ms, .. } => {
                return self.consume(&topic, partition, offset, max_messages, max_wait_ms);
            }
            Request::Authenticate { .. }
            | Request::SaslAuthenticate { .. }
            | Request::ScramClientFirst { .. }
            | Request::ScramClientFinal { .. } => error("UNSUPPORTED: the sink does no authentication"),
            _ => error("UNSUPPORTED: the sink (a benchmark instrument) answers only handshake, metadata, produce and consume requests"),
        };
        Answer::Now(response)
    }
}

/// Whether `buffered` holds at least one whole frame (then its reply can join this one's write).
fn holds_whole_frame(buffered: &[u8]) -> bool {
    if buffered.len() < 4 {
        return false;
    }
    let len = u32::from_be_bytes([buffered[0], buffered[1], buffered[2], buffered[3]]) as usize;
    buffered.len() >= 4 + len
}

async fn serve(stream: TcpStream, sink: Arc<Sink>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read_half, write_half) = stream.into_split();
    let mut reader = BufReader::with_capacity(256 * 1024, read_half);
    let mut writer = BufWriter::with_capacity(256 * 1024, write_half);
    let mut body = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_MESSAGE_SIZE {
            let wire = error(format!("MESSAGE_TOO_LARGE: {len} bytes exceeds limit"))
                .to_wire(WireFormat::Postcard, 0)
                .unwrap_or_default();
            writer.write_all(&(wire.len() as u32).to_be_bytes()).await?;
            writer.write_all(&wire).await?;
            writer.flush().await?;
            return Ok(());
        }
        body.resize(len, 0);
        reader.read_exact(&mut body).await?;
        let (answer, format, correlation_id) = match Request::from_wire(&body) {
            Ok((request, format, correlation_id)) => (sink.answer(request), format, correlation_id),
            Err(e) => {
                let correlation_id = if body.len() >= 5 { u32::from_be_bytes([body[1], body[2], body[3], body[4]]) } else { 0 };
                (Answer::Now(error(format!("INVALID_REQUEST: {e}"))), WireFormat::Postcard, correlation_id)
            }
        };
        let response = match answer {
            Answer::Now(response) => response,
            Answer::After(wait, response) => {
                writer.flush().await?;
                tokio::time::sleep(wait).await;
                response
            }
        };
        let wire = match response.to_wire(format, correlation_id) {
            Ok(wire) => wire,
            Err(e) => error(format!("SERIALIZATION: {e}")).to_wire(format, correlation_id).unwrap_or_default(),
        };
        writer.write_all(&(wire.len() as u32).to_be_bytes()).await?;
        writer.write_all(&wire).await?;
        if !holds_whole_frame(reader.buffer()) {
            writer.flush().await?;
        }
    }
}

async fn run_async(args: SinkArgs) -> anyhow::Result<()> {
    let sink = Arc::new(Sink::new(&args));
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port)).await?;
    let address = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {address}")?;
        out.flush()?;
    }
    eprintln!(
        "sink: measuring instrument on {address}: log topic '{}' = {} × {} B over {} partitions; keeps {} records per partition",
        args.log_topic, args.log_records, args.value_size, args.partitions, args.keep
    );
    let mut stdin_eof = crate::broker::stdin_eof_watcher(args.exit_on_stdin_eof);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let sink = sink.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, sink).await {
                        if !matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe) {
                            eprintln!("sink: connection: {e}");
                        }
                    }
                });
            }
            _ = &mut stdin_eof => { eprintln!("sink: stdin closed, exiting"); return Ok(()); }
            _ = terminate.recv() => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

pub fn run(args: SinkArgs) -> ExitCode {
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sink: cannot start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run_async(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sink: {e:#}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    // As `broker`: exit without dropping the runtime (the stdin watcher thread may be blocked in a read).
    std::process::exit(code);
}
