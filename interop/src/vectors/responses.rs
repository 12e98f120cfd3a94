//! Response vectors: every `rivven_protocol::Response` variant, with edge cases per field kind.

use super::fixtures::*;
use super::{case, sorted_map, Case};
use rivven_protocol::{
    BrokerInfo, DeleteRecordsResult, MessageData, PartitionMetadata, QuotaEntry, Response,
    TopicConfigDescription, TopicConfigValue, TopicMetadata,
};

/// Declaration order in rivven-protocol 0.0.22 messages.rs = postcard variant index.
pub const VARIANTS: &[&str] = &[
    "Authenticated",
    "ScramServerFirst",
    "ScramServerFinal",
    "Published",
    "Messages",
    "TopicCreated",
    "Topics",
    "TopicDeleted",
    "OffsetCommitted",
    "Offset",
    "Metadata",
    "ClusterMetadata",
    "Pong",
    "OffsetBounds",
    "Groups",
    "GroupDescription",
    "GroupDeleted",
    "OffsetForTimestamp",
    "Error",
    "Ok",
    "ProducerIdInitialized",
    "IdempotentPublished",
    "TransactionStarted",
    "PartitionsAddedToTxn",
    "TransactionalPublished",
    "OffsetsAddedToTxn",
    "TransactionCommitted",
    "TransactionAborted",
    "QuotasDescribed",
    "QuotasAltered",
    "Throttled",
    "TopicConfigAltered",
    "PartitionsCreated",
    "RecordsDeleted",
    "TopicConfigsDescribed",
    "HandshakeResult",
    "JoinGroupResult",
    "SyncGroupResult",
    "HeartbeatResult",
    "LeaveGroupResult",
    "PublishedBatch",
    "IdempotentPublishedBatch",
];

pub fn cases() -> Vec<Case<Response>> {
    let mut v = Vec::new();
    auth(&mut v);
    data(&mut v);
    metadata(&mut v);
    groups_and_offsets(&mut v);
    producer_and_transactions(&mut v);
    admin(&mut v);
    coordination_and_batches(&mut v);
    v
}

fn auth(v: &mut Vec<Case<Response>>) {
    v.push(case(
        "typical",
        Response::Authenticated {
            session_id: s("sess-0123456789abcdef"),
            expires_in: 3600,
        },
    ));
    v.push(case(
        "zeros",
        Response::Authenticated {
            session_id: s(""),
            expires_in: 0,
        },
    ));
    v.push(case(
        "maxima",
        Response::Authenticated {
            session_id: s(UNICODE),
            expires_in: u64::MAX,
        },
    ));

    v.push(case(
        "typical",
        Response::ScramServerFirst {
            message: b(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"),
        },
    ));
    v.push(case(
        "empty",
        Response::ScramServerFirst { message: empty() },
    ));
    v.push(case(
        "binary",
        Response::ScramServerFirst {
            message: all_bytes(),
        },
    ));

    v.push(case(
        "success",
        Response::ScramServerFinal {
            message: b(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            session_id: Some(s("sess-1")),
            expires_in: Some(3600),
        },
    ));
    v.push(case(
        "error",
        Response::ScramServerFinal {
            message: b(b"e=invalid-proof"),
            session_id: None,
            expires_in: None,
        },
    ));
    v.push(case(
        "edge",
        Response::ScramServerFinal {
            message: empty(),
            session_id: Some(s("")),
            expires_in: Some(0),
        },
    ));
    v.push(case(
        "maxima",
        Response::ScramServerFinal {
            message: pattern(128),
            session_id: Some(s(UNICODE)),
            expires_in: Some(u64::MAX),
        },
    ));
}

fn message(
    offset: u64,
    partition: u32,
    key: Option<&[u8]>,
    value: &[u8],
    timestamp: i64,
    headers: &[(&str, &[u8])],
) -> MessageData {
    MessageData {
        offset,
        partition,
        key: key.map(b),
        value: b(value),
        timestamp,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect(),
    }
}

fn data(v: &mut Vec<Case<Response>>) {
    v.push(case(
        "zeros",
        Response::Published {
            offset: 0,
            partition: 0,
        },
    ));
    v.push(case(
        "typical",
        Response::Published {
            offset: 12_345,
            partition: 2,
        },
    ));
    v.push(case(
        "maxima",
        Response::Published {
            offset: u64::MAX,
            partition: u32::MAX,
        },
    ));
    v.push(case(
        "max-safe",
        Response::Published {
            offset: MAX_SAFE,
            partition: 127,
        },
    ));

    v.push(case("empty", Response::Messages { messages: vec![] }));
    v.push(case(
        "minimal",
        Response::Messages {
            messages: vec![message(0, 0, None, b"", 0, &[])],
        },
    ));
    v.push(case(
        "mixed",
        Response::Messages {
            messages: vec![
                message(0, 0, None, b"no key", 1_700_000_000_000, &[]),
                message(1, 0, Some(b""), b"", -1, &[("", b"")]),
                message(
                    2,
                    3,
                    Some(b"user-42"),
                    UNICODE.as_bytes(),
                    i64::MIN,
                    &[
                        ("content-type", b"application/json"),
                        ("trace-id", &[0x00, 0xff, 0x80]),
                        (UNICODE, b""),
                    ],
                ),
                message(
                    MAX_SAFE,
                    u32::MAX,
                    Some(&[0x00, 0xff]),
                    &[0xde, 0xad, 0xbe, 0xef],
                    i64::MAX,
                    &[("dup", b"1"), ("dup", b"2")],
                ),
                message(
                    u64::MAX,
                    1,
                    Some(UNICODE.as_bytes()),
                    &pattern(300),
                    -(MAX_SAFE as i64),
                    &[("k", &pattern(128))],
                ),
            ],
        },
    ));
    v.push(case(
        "large-1000",
        Response::Messages {
            messages: (0..1000u64)
                .map(|i| MessageData {
                    offset: 1_000_000 + i,
                    partition: (i % 4) as u32,
                    key: (i % 3 != 0).then(|| b(format!("key-{i}").as_bytes())),
                    value: b(
                        format!("{{\"seq\":{i},\"payload\":\"message number {i}\"}}").as_bytes(),
                    ),
                    timestamp: 1_700_000_000_000 + i as i64,
                    headers: if i % 10 == 0 {
                        vec![(s("seq"), i.to_string().into_bytes())]
                    } else {
                        vec![]
                    },
                })
                .collect(),
        },
    ));

    v.push(case(
        "typical",
        Response::TopicCreated {
            name: s("events"),
            partitions: 3,
        },
    ));
    v.push(case(
        "zeros",
        Response::TopicCreated {
            name: s(""),
            partitions: 0,
        },
    ));
    v.push(case(
        "maxima",
        Response::TopicCreated {
            name: s(UNICODE),
            partitions: u32::MAX,
        },
    ));

    v.push(case("empty", Response::Topics { topics: vec![] }));
    v.push(case(
        "one",
        Response::Topics {
            topics: strings(&["events"]),
        },
    ));
    v.push(case(
        "several",
        Response::Topics {
            topics: strings(&["events", "", UNICODE, "__consumer_offsets"]),
        },
    ));
    v.push(case(
        "max-name",
        Response::Topics {
            topics: vec![name_of_len(256), name_of_len(128)],
        },
    ));

    v.push(case("unit", Response::TopicDeleted));
    v.push(case("unit", Response::OffsetCommitted));

    v.push(case("none", Response::Offset { offset: None }));
    v.push(case("zero", Response::Offset { offset: Some(0) }));
    v.push(case(
        "max",
        Response::Offset {
            offset: Some(u64::MAX),
        },
    ));
    v.push(case(
        "max-safe",
        Response::Offset {
            offset: Some(MAX_SAFE),
        },
    ));
}

fn metadata(v: &mut Vec<Case<Response>>) {
    v.push(case(
        "typical",
        Response::Metadata {
            name: s("events"),
            partitions: 3,
        },
    ));
    v.push(case(
        "zeros",
        Response::Metadata {
            name: s(""),
            partitions: 0,
        },
    ));
    v.push(case(
        "maxima",
        Response::Metadata {
            name: s(UNICODE),
            partitions: u32::MAX,
        },
    ));

    v.push(case(
        "empty",
        Response::ClusterMetadata {
            controller_id: None,
            brokers: vec![],
            topics: vec![],
        },
    ));
    // The shape rivvend 0.0.22 returns in standalone mode.
    v.push(case(
        "standalone",
        Response::ClusterMetadata {
            controller_id: Some(s("rivven-rx-standalone")),
            brokers: vec![BrokerInfo {
                node_id: s("rivven-rx-standalone"),
                host: s("127.0.0.1"),
                port: 9092,
                rack: None,
            }],
            topics: vec![],
        },
    ));
    v.push(case(
        "full",
        Response::ClusterMetadata {
            controller_id: Some(s("node-1")),
            brokers: vec![
                BrokerInfo {
                    node_id: s("node-1"),
                    host: s("10.0.0.1"),
                    port: 9092,
                    rack: Some(s("rack-a")),
                },
                BrokerInfo {
                    node_id: s("node-2"),
                    host: s("broker-2.internal"),
                    port: u16::MAX,
                    rack: None,
                },
                BrokerInfo {
                    node_id: s(UNICODE),
                    host: s("::1"),
                    port: 0,
                    rack: Some(s("")),
                },
            ],
            topics: vec![
                TopicMetadata {
                    name: s("__consumer_offsets"),
                    is_internal: true,
                    partitions: vec![PartitionMetadata {
                        partition: 0,
                        leader: Some(s("node-1")),
                        replicas: strings(&["node-1", "node-2"]),
                        isr: strings(&["node-1"]),
                        offline: false,
                    }],
                },
                TopicMetadata {
                    name: s("empty-topic"),
                    is_internal: false,
                    partitions: vec![],
                },
                TopicMetadata {
                    name: s(UNICODE),
                    is_internal: false,
                    partitions: vec![
                        PartitionMetadata {
                            partition: 0,
                            leader: None,
                            replicas: vec![],
                            isr: vec![],
                            offline: true,
                        },
                        PartitionMetadata {
                            partition: u32::MAX,
                            leader: Some(s("")),
                            replicas: strings(&["node-1", "node-2", UNICODE]),
                            isr: strings(&["node-2", UNICODE]),
                            offline: false,
                        },
                    ],
                },
            ],
        },
    ));
    v.push(case(
        "no-controller",
        Response::ClusterMetadata {
            controller_id: None,
            brokers: vec![BrokerInfo {
                node_id: s("n"),
                host: s("localhost"),
                port: 1,
                rack: None,
            }],
            topics: vec![TopicMetadata {
                name: s("t"),
                is_internal: false,
                partitions: vec![PartitionMetadata {
                    partition: 1,
                    leader: None,
                    replicas: strings(&["n"]),
                    isr: vec![],
                    offline: true,
                }],
            }],
        },
    ));

    v.push(case("unit", Response::Pong));

    v.push(case(
        "zeros",
        Response::OffsetBounds {
            earliest: 0,
            latest: 0,
        },
    ));
    v.push(case(
        "typical",
        Response::OffsetBounds {
            earliest: 100,
            latest: 12_345,
        },
    ));
    v.push(case(
        "maxima",
        Response::OffsetBounds {
            earliest: MAX_SAFE,
            latest: u64::MAX,
        },
    ));
}

fn groups_and_offsets(v: &mut Vec<Case<Response>>) {
    v.push(case("empty", Response::Groups { groups: vec![] }));
    v.push(case(
        "several",
        Response::Groups {
            groups: strings(&["analytics", "", UNICODE]),
        },
    ));
    v.push(case(
        "one",
        Response::Groups {
            groups: strings(&["g"]),
        },
    ));

    v.push(case(
        "empty",
        Response::GroupDescription {
            consumer_group: s("g"),
            offsets: sorted_map(vec![]),
        },
    ));
    v.push(case(
        "topic-without-partitions",
        Response::GroupDescription {
            consumer_group: s(""),
            offsets: sorted_map(vec![(s("events"), sorted_map(vec![]))]),
        },
    ));
    v.push(case(
        "one",
        Response::GroupDescription {
            consumer_group: s("analytics"),
            offsets: sorted_map(vec![(s("events"), sorted_map(vec![(0u32, 42u64)]))]),
        },
    ));
    // Multi-entry maps at both levels; built in sorted key order, see `sorted_map`.
    v.push(case(
        "several",
        Response::GroupDescription {
            consumer_group: s(UNICODE),
            offsets: sorted_map(vec![
                (
                    s("orders"),
                    sorted_map(vec![
                        (0u32, 0u64),
                        (1, u64::MAX),
                        (2, MAX_SAFE),
                        (u32::MAX, 7),
                    ]),
                ),
                (s("events"), sorted_map(vec![(10u32, 1u64), (3, 2)])),
                (s(UNICODE), sorted_map(vec![(0u32, 128u64)])),
            ]),
        },
    ));

    v.push(case("unit", Response::GroupDeleted));

    v.push(case("none", Response::OffsetForTimestamp { offset: None }));
    v.push(case(
        "zero",
        Response::OffsetForTimestamp { offset: Some(0) },
    ));
    v.push(case(
        "max",
        Response::OffsetForTimestamp {
            offset: Some(u64::MAX),
        },
    ));

    v.push(case(
        "typical",
        Response::Error {
            message: s("Topic not found: events"),
        },
    ));
    v.push(case("empty", Response::Error { message: s("") }));
    v.push(case(
        "unicode",
        Response::Error {
            message: s(UNICODE),
        },
    ));
    v.push(case(
        "long",
        Response::Error {
            message: "error ".repeat(200),
        },
    ));

    v.push(case("unit", Response::Ok));
}

fn producer_and_transactions(v: &mut Vec<Case<Response>>) {
    v.push(case(
        "zeros",
        Response::ProducerIdInitialized {
            producer_id: 0,
            producer_epoch: 0,
        },
    ));
    v.push(case(
        "typical",
        Response::ProducerIdInitialized {
            producer_id: 1001,
            producer_epoch: 1,
        },
    ));
    v.push(case(
        "maxima",
        Response::ProducerIdInitialized {
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
        },
    ));
    v.push(case(
        "max-safe",
        Response::ProducerIdInitialized {
            producer_id: MAX_SAFE,
            producer_epoch: 256,
        },
    ));

    v.push(case(
        "fresh",
        Response::IdempotentPublished {
            offset: 0,
            partition: 0,
            duplicate: false,
        },
    ));
    v.push(case(
        "duplicate",
        Response::IdempotentPublished {
            offset: 12_345,
            partition: 3,
            duplicate: true,
        },
    ));
    v.push(case(
        "maxima",
        Response::IdempotentPublished {
            offset: u64::MAX,
            partition: u32::MAX,
            duplicate: true,
        },
    ));

    v.push(case(
        "typical",
        Response::TransactionStarted { txn_id: s("txn-1") },
    ));
    v.push(case(
        "empty",
        Response::TransactionStarted { txn_id: s("") },
    ));
    v.push(case(
        "unicode",
        Response::TransactionStarted { txn_id: s(UNICODE) },
    ));

    v.push(case(
        "zero",
        Response::PartitionsAddedToTxn {
            txn_id: s("txn-1"),
            partition_count: 0,
        },
    ));
    v.push(case(
        "typical",
        Response::PartitionsAddedToTxn {
            txn_id: s(""),
            partition_count: 4,
        },
    ));
    v.push(case(
        "max-safe",
        Response::PartitionsAddedToTxn {
            txn_id: s(UNICODE),
            partition_count: MAX_SAFE_USIZE,
        },
    ));
    v.push(case(
        "varint-boundary",
        Response::PartitionsAddedToTxn {
            txn_id: s("t"),
            partition_count: 128,
        },
    ));

    v.push(case(
        "zeros",
        Response::TransactionalPublished {
            offset: 0,
            partition: 0,
            sequence: 0,
        },
    ));
    v.push(case(
        "maxima",
        Response::TransactionalPublished {
            offset: u64::MAX,
            partition: u32::MAX,
            sequence: i32::MAX,
        },
    ));
    v.push(case(
        "negative",
        Response::TransactionalPublished {
            offset: 77,
            partition: 1,
            sequence: i32::MIN,
        },
    ));
    v.push(case(
        "minus-one",
        Response::TransactionalPublished {
            offset: MAX_SAFE,
            partition: 2,
            sequence: -1,
        },
    ));

    let makers: [fn(String) -> Response; 3] = [
        |txn_id| Response::OffsetsAddedToTxn { txn_id },
        |txn_id| Response::TransactionCommitted { txn_id },
        |txn_id| Response::TransactionAborted { txn_id },
    ];
    for make in makers {
        v.push(case("typical", make(s("txn-1"))));
        v.push(case("empty", make(s(""))));
        v.push(case("unicode", make(s(UNICODE))));
    }
}

fn admin(v: &mut Vec<Case<Response>>) {
    v.push(case("empty", Response::QuotasDescribed { entries: vec![] }));
    v.push(case(
        "several",
        Response::QuotasDescribed {
            entries: vec![
                QuotaEntry {
                    entity_type: s("default"),
                    entity_name: None,
                    quotas: sorted_map(vec![]),
                },
                QuotaEntry {
                    entity_type: s("user"),
                    entity_name: Some(s("alice")),
                    quotas: sorted_map(vec![
                        (s("produce_bytes_rate"), 1_048_576u64),
                        (s("consume_bytes_rate"), u64::MAX),
                        (s("request_rate"), 0),
                    ]),
                },
                QuotaEntry {
                    entity_type: s("client-id"),
                    entity_name: Some(s("")),
                    quotas: sorted_map(vec![(s("request_rate"), MAX_SAFE)]),
                },
                QuotaEntry {
                    entity_type: s("consumer-group"),
                    entity_name: Some(s(UNICODE)),
                    quotas: sorted_map(vec![(s(UNICODE), 1u64), (s(""), 2)]),
                },
            ],
        },
    ));
    v.push(case(
        "one",
        Response::QuotasDescribed {
            entries: vec![QuotaEntry {
                entity_type: s("user"),
                entity_name: Some(s("bob")),
                quotas: sorted_map(vec![(s("produce_bytes_rate"), 100u64)]),
            }],
        },
    ));

    v.push(case("zero", Response::QuotasAltered { altered_count: 0 }));
    v.push(case(
        "typical",
        Response::QuotasAltered { altered_count: 3 },
    ));
    v.push(case(
        "max-safe",
        Response::QuotasAltered {
            altered_count: MAX_SAFE_USIZE,
        },
    ));

    v.push(case(
        "typical",
        Response::Throttled {
            throttle_time_ms: 250,
            quota_type: s("produce_bytes_rate"),
            entity: s("user:alice"),
        },
    ));
    v.push(case(
        "zeros",
        Response::Throttled {
            throttle_time_ms: 0,
            quota_type: s(""),
            entity: s(""),
        },
    ));
    v.push(case(
        "maxima",
        Response::Throttled {
            throttle_time_ms: u64::MAX,
            quota_type: s("request_rate"),
            entity: s(UNICODE),
        },
    ));

    v.push(case(
        "zero",
        Response::TopicConfigAltered {
            topic: s("events"),
            changed_count: 0,
        },
    ));
    v.push(case(
        "typical",
        Response::TopicConfigAltered {
            topic: s(UNICODE),
            changed_count: 2,
        },
    ));
    v.push(case(
        "max-safe",
        Response::TopicConfigAltered {
            topic: s(""),
            changed_count: MAX_SAFE_USIZE,
        },
    ));

    v.push(case(
        "typical",
        Response::PartitionsCreated {
            topic: s("events"),
            new_partition_count: 6,
        },
    ));
    v.push(case(
        "zeros",
        Response::PartitionsCreated {
            topic: s(""),
            new_partition_count: 0,
        },
    ));
    v.push(case(
        "maxima",
        Response::PartitionsCreated {
            topic: s(UNICODE),
            new_partition_count: u32::MAX,
        },
    ));

    v.push(case(
        "empty",
        Response::RecordsDeleted {
            topic: s("events"),
            results: vec![],
        },
    ));
    v.push(case(
        "several",
        Response::RecordsDeleted {
            topic: s(UNICODE),
            results: vec![
                DeleteRecordsResult {
                    partition: 0,
                    low_watermark: 100,
                    error: None,
                },
                DeleteRecordsResult {
                    partition: 1,
                    low_watermark: 0,
                    error: Some(s("Partition not found")),
                },
                DeleteRecordsResult {
                    partition: u32::MAX,
                    low_watermark: u64::MAX,
                    error: Some(s("")),
                },
                DeleteRecordsResult {
                    partition: 2,
                    low_watermark: MAX_SAFE,
                    error: Some(s(UNICODE)),
                },
            ],
        },
    ));
    v.push(case(
        "one",
        Response::RecordsDeleted {
            topic: s("orders"),
            results: vec![DeleteRecordsResult {
                partition: 3,
                low_watermark: 1 << 40,
                error: None,
            }],
        },
    ));

    let value =
        |value: &str, is_default: bool, is_read_only: bool, is_sensitive: bool| TopicConfigValue {
            value: s(value),
            is_default,
            is_read_only,
            is_sensitive,
        };
    v.push(case(
        "empty",
        Response::TopicConfigsDescribed { configs: vec![] },
    ));
    v.push(case(
        "several",
        Response::TopicConfigsDescribed {
            configs: vec![
                TopicConfigDescription {
                    topic: s("empty-configs"),
                    configs: sorted_map(vec![]),
                },
                TopicConfigDescription {
                    topic: s("events"),
                    configs: sorted_map(vec![
                        (s("retention.ms"), value("604800000", true, false, false)),
                        (s("cleanup.policy"), value("delete", false, false, false)),
                        (s("segment.bytes"), value("1073741824", true, true, false)),
                        (s("x.secret"), value("", false, true, true)),
                    ]),
                },
                TopicConfigDescription {
                    topic: s(UNICODE),
                    configs: sorted_map(vec![(s(UNICODE), value(UNICODE, false, false, true))]),
                },
            ],
        },
    ));
    v.push(case(
        "one",
        Response::TopicConfigsDescribed {
            configs: vec![TopicConfigDescription {
                topic: s("orders"),
                configs: sorted_map(vec![(
                    s("max.message.bytes"),
                    value("1048588", true, false, false),
                )]),
            }],
        },
    ));
}

fn coordination_and_batches(v: &mut Vec<Case<Response>>) {
    v.push(case(
        "compatible",
        Response::HandshakeResult {
            server_version: rivven_protocol::PROTOCOL_VERSION,
            compatible: true,
            message: s("OK"),
        },
    ));
    v.push(case(
        "incompatible",
        Response::HandshakeResult {
            server_version: 2,
            compatible: false,
            message: s("Protocol version mismatch: client 1, server 2"),
        },
    ));
    v.push(case(
        "zeros",
        Response::HandshakeResult {
            server_version: 0,
            compatible: false,
            message: s(""),
        },
    ));
    v.push(case(
        "maxima",
        Response::HandshakeResult {
            server_version: u32::MAX,
            compatible: true,
            message: s(UNICODE),
        },
    ));

    v.push(case(
        "follower",
        Response::JoinGroupResult {
            generation_id: 1,
            protocol_type: s("consumer"),
            member_id: s("m-2"),
            leader_id: s("m-1"),
            members: vec![],
        },
    ));
    v.push(case(
        "leader",
        Response::JoinGroupResult {
            generation_id: 7,
            protocol_type: s("consumer"),
            member_id: s("m-1"),
            leader_id: s("m-1"),
            members: vec![
                (s("m-1"), strings(&["events", "orders"])),
                (s("m-2"), vec![]),
                (s(UNICODE), strings(&[UNICODE, ""])),
            ],
        },
    ));
    v.push(case(
        "maxima",
        Response::JoinGroupResult {
            generation_id: u32::MAX,
            protocol_type: s(""),
            member_id: s(UNICODE),
            leader_id: s(""),
            members: vec![(s(""), strings(&["t"]))],
        },
    ));

    v.push(case(
        "empty",
        Response::SyncGroupResult {
            assignments: vec![],
        },
    ));
    v.push(case(
        "several",
        Response::SyncGroupResult {
            assignments: vec![
                (s("events"), vec![0, 2, 4]),
                (s("orders"), vec![]),
                (s(UNICODE), vec![127, 128, u32::MAX]),
            ],
        },
    ));
    v.push(case(
        "one",
        Response::SyncGroupResult {
            assignments: vec![(s("events"), vec![0])],
        },
    ));

    v.push(case("ok", Response::HeartbeatResult { error_code: 0 }));
    v.push(case(
        "rebalance",
        Response::HeartbeatResult { error_code: 27 },
    ));
    v.push(case(
        "i32-min",
        Response::HeartbeatResult {
            error_code: i32::MIN,
        },
    ));
    v.push(case(
        "i32-max",
        Response::HeartbeatResult {
            error_code: i32::MAX,
        },
    ));
    v.push(case(
        "minus-one",
        Response::HeartbeatResult { error_code: -1 },
    ));

    v.push(case("unit", Response::LeaveGroupResult));

    v.push(case(
        "zeros",
        Response::PublishedBatch {
            base_offset: 0,
            partition: 0,
            record_count: 0,
        },
    ));
    v.push(case(
        "typical",
        Response::PublishedBatch {
            base_offset: 1000,
            partition: 2,
            record_count: 1000,
        },
    ));
    v.push(case(
        "maxima",
        Response::PublishedBatch {
            base_offset: u64::MAX,
            partition: u32::MAX,
            record_count: u32::MAX,
        },
    ));

    v.push(case(
        "fresh",
        Response::IdempotentPublishedBatch {
            base_offset: 0,
            partition: 0,
            record_count: 0,
            duplicate: false,
        },
    ));
    v.push(case(
        "duplicate",
        Response::IdempotentPublishedBatch {
            base_offset: 500,
            partition: 1,
            record_count: 4,
            duplicate: true,
        },
    ));
    v.push(case(
        "maxima",
        Response::IdempotentPublishedBatch {
            base_offset: u64::MAX,
            partition: u32::MAX,
            record_count: u32::MAX,
            duplicate: true,
        },
    ));
}
