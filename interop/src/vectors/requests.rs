//! Request vectors: every `rivven_protocol::Request` variant, with edge cases per field kind.

use super::fixtures::*;
use super::{case, Case};
use rivven_protocol::{BatchRecord, QuotaAlteration, Request, TopicConfigEntry};

/// Declaration order in rivven-protocol 0.0.22 messages.rs = postcard variant index.
/// Used only to cross-check the indexes read from the postcard bytes.
pub const VARIANTS: &[&str] = &[
    "Authenticate",
    "SaslAuthenticate",
    "ScramClientFirst",
    "ScramClientFinal",
    "Publish",
    "Consume",
    "CreateTopic",
    "ListTopics",
    "DeleteTopic",
    "CommitOffset",
    "GetOffset",
    "GetMetadata",
    "GetClusterMetadata",
    "Ping",
    "GetOffsetBounds",
    "ListGroups",
    "DescribeGroup",
    "DeleteGroup",
    "GetOffsetForTimestamp",
    "InitProducerId",
    "IdempotentPublish",
    "BeginTransaction",
    "AddPartitionsToTxn",
    "TransactionalPublish",
    "AddOffsetsToTxn",
    "CommitTransaction",
    "AbortTransaction",
    "DescribeQuotas",
    "AlterQuotas",
    "AlterTopicConfig",
    "CreatePartitions",
    "DeleteRecords",
    "DescribeTopicConfigs",
    "Handshake",
    "JoinGroup",
    "SyncGroup",
    "Heartbeat",
    "LeaveGroup",
    "PublishBatch",
    "IdempotentPublishBatch",
];

pub fn cases() -> Vec<Case<Request>> {
    let mut v = Vec::new();
    auth(&mut v);
    publish_consume(&mut v);
    topics_and_offsets(&mut v);
    producer_and_transactions(&mut v);
    admin(&mut v);
    groups(&mut v);
    batches(&mut v);
    v
}

fn auth(v: &mut Vec<Case<Request>>) {
    // Deprecated upstream (plaintext password), still part of the wire protocol at index 0.
    #[allow(deprecated)]
    {
        v.push(case(
            "basic",
            Request::Authenticate {
                username: s("alice"),
                password: s("secret"),
                require_tls: false,
            },
        ));
        v.push(case(
            "require-tls",
            Request::Authenticate {
                username: s("admin"),
                password: s("p@ss w0rd!"),
                require_tls: true,
            },
        ));
        v.push(case(
            "empty",
            Request::Authenticate {
                username: s(""),
                password: s(""),
                require_tls: false,
            },
        ));
        v.push(case(
            "unicode",
            Request::Authenticate {
                username: s(UNICODE),
                password: s("пароль🔑"),
                require_tls: true,
            },
        ));
    }

    v.push(case(
        "plain",
        Request::SaslAuthenticate {
            mechanism: b(b"PLAIN"),
            auth_bytes: b(b"\0alice\0secret"),
        },
    ));
    v.push(case(
        "empty",
        Request::SaslAuthenticate {
            mechanism: empty(),
            auth_bytes: empty(),
        },
    ));
    v.push(case(
        "binary",
        Request::SaslAuthenticate {
            mechanism: b(b"SCRAM-SHA-256"),
            auth_bytes: all_bytes(),
        },
    ));
    v.push(case(
        "len-128",
        Request::SaslAuthenticate {
            mechanism: pattern(127),
            auth_bytes: pattern(128),
        },
    ));

    v.push(case(
        "typical",
        Request::ScramClientFirst {
            message: b(b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"),
        },
    ));
    v.push(case(
        "empty",
        Request::ScramClientFirst { message: empty() },
    ));
    v.push(case(
        "binary",
        Request::ScramClientFirst {
            message: b(&[0x00, 0xff, 0x80, 0x7f]),
        },
    ));

    v.push(case(
        "typical",
        Request::ScramClientFinal {
            message: b(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
        },
    ));
    v.push(case(
        "empty",
        Request::ScramClientFinal { message: empty() },
    ));
    v.push(case(
        "binary-256",
        Request::ScramClientFinal {
            message: all_bytes(),
        },
    ));
}

fn publish_consume(v: &mut Vec<Case<Request>>) {
    v.push(case(
        "minimal",
        Request::Publish {
            topic: s("t"),
            partition: None,
            key: None,
            value: empty(),
            leader_epoch: None,
        },
    ));
    v.push(case(
        "key-empty",
        Request::Publish {
            topic: s("events"),
            partition: Some(0),
            key: Some(empty()),
            value: b(b"v"),
            leader_epoch: None,
        },
    ));
    v.push(case(
        "key-data",
        Request::Publish {
            topic: s("orders"),
            partition: Some(u32::MAX),
            key: Some(b(b"user-42")),
            value: b(b"hello world"),
            leader_epoch: Some(0),
        },
    ));
    v.push(case(
        "unicode",
        Request::Publish {
            topic: s(UNICODE),
            partition: Some(1),
            key: Some(b(UNICODE.as_bytes())),
            value: b("{\"msg\":\"✓ 🚀\"}".as_bytes()),
            leader_epoch: Some(u64::MAX),
        },
    ));
    v.push(case(
        "binary",
        Request::Publish {
            topic: s("bin"),
            partition: None,
            key: Some(b(&[0x00, 0xff])),
            value: all_bytes(),
            leader_epoch: Some(MAX_SAFE),
        },
    ));
    v.push(case(
        "varint-boundaries",
        Request::Publish {
            topic: name_of_len(128),
            partition: Some(127),
            key: Some(pattern(127)),
            value: pattern(128),
            leader_epoch: Some(MAX_SAFE + 1),
        },
    ));
    v.push(case(
        "max-name-4k-value",
        Request::Publish {
            topic: name_of_len(256),
            partition: Some(128),
            key: None,
            value: pattern(4096),
            leader_epoch: Some(16384),
        },
    ));

    v.push(case(
        "zeros",
        Request::Consume {
            topic: s("t"),
            partition: 0,
            offset: 0,
            max_messages: 0,
            isolation_level: None,
            max_wait_ms: None,
        },
    ));
    v.push(case(
        "maxima",
        Request::Consume {
            topic: s("events"),
            partition: u32::MAX,
            offset: u64::MAX,
            max_messages: u32::MAX,
            isolation_level: Some(u8::MAX),
            max_wait_ms: Some(u64::MAX),
        },
    ));
    v.push(case(
        "read-committed-long-poll",
        Request::Consume {
            topic: s("orders"),
            partition: 3,
            offset: MAX_SAFE,
            max_messages: 500,
            isolation_level: Some(1),
            max_wait_ms: Some(30_000),
        },
    ));
    v.push(case(
        "read-uncommitted-zero-wait",
        Request::Consume {
            topic: s(UNICODE),
            partition: 1,
            offset: 1 << 32,
            max_messages: 1,
            isolation_level: Some(0),
            max_wait_ms: Some(0),
        },
    ));
}

fn topics_and_offsets(v: &mut Vec<Case<Request>>) {
    v.push(case(
        "default-partitions",
        Request::CreateTopic {
            name: s("events"),
            partitions: None,
        },
    ));
    v.push(case(
        "zero",
        Request::CreateTopic {
            name: s("zero"),
            partitions: Some(0),
        },
    ));
    v.push(case(
        "max",
        Request::CreateTopic {
            name: name_of_len(256),
            partitions: Some(u32::MAX),
        },
    ));
    v.push(case(
        "unicode",
        Request::CreateTopic {
            name: s(UNICODE),
            partitions: Some(3),
        },
    ));
    v.push(case(
        "empty-name",
        Request::CreateTopic {
            name: s(""),
            partitions: Some(1),
        },
    ));

    v.push(case("unit", Request::ListTopics));

    v.push(case("basic", Request::DeleteTopic { name: s("orders") }));
    v.push(case("empty", Request::DeleteTopic { name: s("") }));
    v.push(case("unicode", Request::DeleteTopic { name: s(UNICODE) }));

    v.push(case(
        "zeros",
        Request::CommitOffset {
            consumer_group: s("g"),
            topic: s("t"),
            partition: 0,
            offset: 0,
        },
    ));
    v.push(case(
        "maxima",
        Request::CommitOffset {
            consumer_group: name_of_len(256),
            topic: s("events"),
            partition: u32::MAX,
            offset: u64::MAX,
        },
    ));
    v.push(case(
        "unicode",
        Request::CommitOffset {
            consumer_group: s(UNICODE),
            topic: s(UNICODE),
            partition: 7,
            offset: MAX_SAFE,
        },
    ));
    v.push(case(
        "empty-strings",
        Request::CommitOffset {
            consumer_group: s(""),
            topic: s(""),
            partition: 1,
            offset: 1,
        },
    ));

    v.push(case(
        "zeros",
        Request::GetOffset {
            consumer_group: s("g"),
            topic: s("t"),
            partition: 0,
        },
    ));
    v.push(case(
        "max",
        Request::GetOffset {
            consumer_group: s("group-1"),
            topic: s("orders"),
            partition: u32::MAX,
        },
    ));
    v.push(case(
        "unicode",
        Request::GetOffset {
            consumer_group: s(UNICODE),
            topic: s(""),
            partition: 2,
        },
    ));

    v.push(case("basic", Request::GetMetadata { topic: s("events") }));
    v.push(case("empty", Request::GetMetadata { topic: s("") }));
    v.push(case(
        "max-name",
        Request::GetMetadata {
            topic: name_of_len(256),
        },
    ));

    v.push(case("all", Request::GetClusterMetadata { topics: vec![] }));
    v.push(case(
        "one",
        Request::GetClusterMetadata {
            topics: strings(&["events"]),
        },
    ));
    v.push(case(
        "several",
        Request::GetClusterMetadata {
            topics: strings(&["a", "", UNICODE, "__consumer_offsets", "orders.v2"]),
        },
    ));

    v.push(case("unit", Request::Ping));

    v.push(case(
        "zero",
        Request::GetOffsetBounds {
            topic: s("t"),
            partition: 0,
        },
    ));
    v.push(case(
        "max",
        Request::GetOffsetBounds {
            topic: s("events"),
            partition: u32::MAX,
        },
    ));
    v.push(case(
        "unicode",
        Request::GetOffsetBounds {
            topic: s(UNICODE),
            partition: 65_536,
        },
    ));

    v.push(case("unit", Request::ListGroups));

    v.push(case(
        "basic",
        Request::DescribeGroup {
            consumer_group: s("analytics"),
        },
    ));
    v.push(case(
        "empty",
        Request::DescribeGroup {
            consumer_group: s(""),
        },
    ));
    v.push(case(
        "unicode",
        Request::DescribeGroup {
            consumer_group: s(UNICODE),
        },
    ));

    v.push(case(
        "basic",
        Request::DeleteGroup {
            consumer_group: s("analytics"),
        },
    ));
    v.push(case(
        "empty",
        Request::DeleteGroup {
            consumer_group: s(""),
        },
    ));
    v.push(case(
        "unicode",
        Request::DeleteGroup {
            consumer_group: s(UNICODE),
        },
    ));

    v.push(case(
        "epoch",
        Request::GetOffsetForTimestamp {
            topic: s("t"),
            partition: 0,
            timestamp_ms: 0,
        },
    ));
    v.push(case(
        "typical",
        Request::GetOffsetForTimestamp {
            topic: s("events"),
            partition: 2,
            timestamp_ms: 1_700_000_000_123,
        },
    ));
    v.push(case(
        "minus-one",
        Request::GetOffsetForTimestamp {
            topic: s("events"),
            partition: 1,
            timestamp_ms: -1,
        },
    ));
    v.push(case(
        "i64-min",
        Request::GetOffsetForTimestamp {
            topic: s(UNICODE),
            partition: u32::MAX,
            timestamp_ms: i64::MIN,
        },
    ));
    v.push(case(
        "i64-max",
        Request::GetOffsetForTimestamp {
            topic: s("events"),
            partition: 0,
            timestamp_ms: i64::MAX,
        },
    ));
    v.push(case(
        "negative-safe",
        Request::GetOffsetForTimestamp {
            topic: s("events"),
            partition: 0,
            timestamp_ms: -(MAX_SAFE as i64),
        },
    ));
}

fn producer_and_transactions(v: &mut Vec<Case<Request>>) {
    v.push(case("new", Request::InitProducerId { producer_id: None }));
    v.push(case(
        "zero",
        Request::InitProducerId {
            producer_id: Some(0),
        },
    ));
    v.push(case(
        "max-safe",
        Request::InitProducerId {
            producer_id: Some(MAX_SAFE),
        },
    ));
    v.push(case(
        "above-safe",
        Request::InitProducerId {
            producer_id: Some(MAX_SAFE + 1),
        },
    ));
    v.push(case(
        "u64-max",
        Request::InitProducerId {
            producer_id: Some(u64::MAX),
        },
    ));

    v.push(case(
        "minimal",
        Request::IdempotentPublish {
            topic: s("t"),
            partition: None,
            key: None,
            value: empty(),
            producer_id: 0,
            producer_epoch: 0,
            sequence: 0,
            leader_epoch: None,
        },
    ));
    v.push(case(
        "maxima",
        Request::IdempotentPublish {
            topic: s("events"),
            partition: Some(u32::MAX),
            key: Some(empty()),
            value: b(b"payload"),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
            sequence: i32::MAX,
            leader_epoch: Some(u64::MAX),
        },
    ));
    v.push(case(
        "negative-sequence",
        Request::IdempotentPublish {
            topic: s(UNICODE),
            partition: Some(0),
            key: Some(b(b"k")),
            value: all_bytes(),
            producer_id: 1000,
            producer_epoch: 1,
            sequence: i32::MIN,
            leader_epoch: Some(0),
        },
    ));
    v.push(case(
        "minus-one",
        Request::IdempotentPublish {
            topic: s("orders"),
            partition: Some(5),
            key: Some(b(UNICODE.as_bytes())),
            value: b(b"x"),
            producer_id: MAX_SAFE,
            producer_epoch: 32768,
            sequence: -1,
            leader_epoch: None,
        },
    ));

    v.push(case(
        "default-timeout",
        Request::BeginTransaction {
            txn_id: s("txn-1"),
            producer_id: 1,
            producer_epoch: 0,
            timeout_ms: None,
        },
    ));
    v.push(case(
        "zero-timeout",
        Request::BeginTransaction {
            txn_id: s(""),
            producer_id: 0,
            producer_epoch: 0,
            timeout_ms: Some(0),
        },
    ));
    v.push(case(
        "maxima",
        Request::BeginTransaction {
            txn_id: s(UNICODE),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
            timeout_ms: Some(u64::MAX),
        },
    ));
    v.push(case(
        "typical",
        Request::BeginTransaction {
            txn_id: s("orders-tx"),
            producer_id: 42,
            producer_epoch: 3,
            timeout_ms: Some(60_000),
        },
    ));

    v.push(case(
        "empty",
        Request::AddPartitionsToTxn {
            txn_id: s("txn-1"),
            producer_id: 1,
            producer_epoch: 0,
            partitions: vec![],
        },
    ));
    v.push(case(
        "one",
        Request::AddPartitionsToTxn {
            txn_id: s("txn-1"),
            producer_id: 1,
            producer_epoch: 0,
            partitions: vec![(s("orders"), 0)],
        },
    ));
    v.push(case(
        "several",
        Request::AddPartitionsToTxn {
            txn_id: s(UNICODE),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
            partitions: vec![
                (s("orders"), 0),
                (s("orders"), 1),
                (s(""), u32::MAX),
                (s(UNICODE), 128),
            ],
        },
    ));

    v.push(case(
        "minimal",
        Request::TransactionalPublish {
            txn_id: s("txn-1"),
            topic: s("t"),
            partition: None,
            key: None,
            value: empty(),
            producer_id: 0,
            producer_epoch: 0,
            sequence: 0,
            leader_epoch: None,
        },
    ));
    v.push(case(
        "maxima",
        Request::TransactionalPublish {
            txn_id: name_of_len(256),
            topic: s("events"),
            partition: Some(u32::MAX),
            key: Some(b(b"key")),
            value: pattern(300),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
            sequence: i32::MAX,
            leader_epoch: Some(u64::MAX),
        },
    ));
    v.push(case(
        "key-empty-negative",
        Request::TransactionalPublish {
            txn_id: s(UNICODE),
            topic: s(UNICODE),
            partition: Some(0),
            key: Some(empty()),
            value: b(UNICODE.as_bytes()),
            producer_id: 7,
            producer_epoch: 2,
            sequence: i32::MIN,
            leader_epoch: Some(MAX_SAFE),
        },
    ));

    v.push(case(
        "empty",
        Request::AddOffsetsToTxn {
            txn_id: s("txn-1"),
            producer_id: 1,
            producer_epoch: 0,
            group_id: s("g"),
            offsets: vec![],
        },
    ));
    v.push(case(
        "several",
        Request::AddOffsetsToTxn {
            txn_id: s("txn-2"),
            producer_id: MAX_SAFE,
            producer_epoch: 9,
            group_id: s(UNICODE),
            offsets: vec![
                (s("orders"), 0, 0),
                (s("orders"), 1, -1),
                (s(UNICODE), u32::MAX, i64::MAX),
                (s(""), 2, i64::MIN),
                (s("events"), 3, 1_700_000_000_000),
            ],
        },
    ));
    v.push(case(
        "maxima",
        Request::AddOffsetsToTxn {
            txn_id: s(""),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
            group_id: s(""),
            offsets: vec![(s("t"), u32::MAX, i64::MAX)],
        },
    ));

    v.push(case(
        "zeros",
        Request::CommitTransaction {
            txn_id: s(""),
            producer_id: 0,
            producer_epoch: 0,
        },
    ));
    v.push(case(
        "typical",
        Request::CommitTransaction {
            txn_id: s("txn-1"),
            producer_id: 42,
            producer_epoch: 3,
        },
    ));
    v.push(case(
        "maxima",
        Request::CommitTransaction {
            txn_id: s(UNICODE),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
        },
    ));

    v.push(case(
        "zeros",
        Request::AbortTransaction {
            txn_id: s(""),
            producer_id: 0,
            producer_epoch: 0,
        },
    ));
    v.push(case(
        "typical",
        Request::AbortTransaction {
            txn_id: s("txn-1"),
            producer_id: 42,
            producer_epoch: 3,
        },
    ));
    v.push(case(
        "maxima",
        Request::AbortTransaction {
            txn_id: s(UNICODE),
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
        },
    ));
}

fn admin(v: &mut Vec<Case<Request>>) {
    v.push(case("all", Request::DescribeQuotas { entities: vec![] }));
    v.push(case(
        "default",
        Request::DescribeQuotas {
            entities: vec![(s("default"), None)],
        },
    ));
    v.push(case(
        "several",
        Request::DescribeQuotas {
            entities: vec![
                (s("user"), Some(s("alice"))),
                (s("default"), None),
                (s("client-id"), Some(s(""))),
                (s("consumer-group"), Some(s(UNICODE))),
            ],
        },
    ));

    v.push(case(
        "empty",
        Request::AlterQuotas {
            alterations: vec![],
        },
    ));
    v.push(case(
        "set-and-remove",
        Request::AlterQuotas {
            alterations: vec![
                QuotaAlteration {
                    entity_type: s("user"),
                    entity_name: Some(s("alice")),
                    quota_key: s("produce_bytes_rate"),
                    quota_value: Some(1_048_576),
                },
                QuotaAlteration {
                    entity_type: s("default"),
                    entity_name: None,
                    quota_key: s("request_rate"),
                    quota_value: None,
                },
                QuotaAlteration {
                    entity_type: s("client-id"),
                    entity_name: Some(s("")),
                    quota_key: s("consume_bytes_rate"),
                    quota_value: Some(0),
                },
            ],
        },
    ));
    v.push(case(
        "maxima",
        Request::AlterQuotas {
            alterations: vec![QuotaAlteration {
                entity_type: s("consumer-group"),
                entity_name: Some(s(UNICODE)),
                quota_key: s("produce_bytes_rate"),
                quota_value: Some(u64::MAX),
            }],
        },
    ));

    v.push(case(
        "empty",
        Request::AlterTopicConfig {
            topic: s("events"),
            configs: vec![],
        },
    ));
    v.push(case(
        "several",
        Request::AlterTopicConfig {
            topic: s(UNICODE),
            configs: vec![
                TopicConfigEntry {
                    key: s("retention.ms"),
                    value: Some(s("604800000")),
                },
                TopicConfigEntry {
                    key: s("cleanup.policy"),
                    value: None,
                },
                TopicConfigEntry {
                    key: s("max.message.bytes"),
                    value: Some(s("")),
                },
                TopicConfigEntry {
                    key: s("x.unicode"),
                    value: Some(s(UNICODE)),
                },
            ],
        },
    ));
    v.push(case(
        "reset-one",
        Request::AlterTopicConfig {
            topic: s("orders"),
            configs: vec![TopicConfigEntry {
                key: s("retention.bytes"),
                value: None,
            }],
        },
    ));

    v.push(case(
        "auto-assign",
        Request::CreatePartitions {
            topic: s("events"),
            new_partition_count: 6,
            assignments: vec![],
        },
    ));
    v.push(case(
        "explicit",
        Request::CreatePartitions {
            topic: s("orders"),
            new_partition_count: 4,
            assignments: vec![
                strings(&["node-1", "node-2"]),
                strings(&["node-3"]),
                vec![],
                strings(&[UNICODE]),
            ],
        },
    ));
    v.push(case(
        "zero",
        Request::CreatePartitions {
            topic: s(""),
            new_partition_count: 0,
            assignments: vec![vec![]],
        },
    ));
    v.push(case(
        "max",
        Request::CreatePartitions {
            topic: s("t"),
            new_partition_count: u32::MAX,
            assignments: vec![],
        },
    ));

    v.push(case(
        "empty",
        Request::DeleteRecords {
            topic: s("events"),
            partition_offsets: vec![],
        },
    ));
    v.push(case(
        "several",
        Request::DeleteRecords {
            topic: s(UNICODE),
            partition_offsets: vec![(0, 0), (1, 100), (u32::MAX, u64::MAX), (7, MAX_SAFE)],
        },
    ));
    v.push(case(
        "one",
        Request::DeleteRecords {
            topic: s("orders"),
            partition_offsets: vec![(3, 1 << 40)],
        },
    ));

    v.push(case(
        "all",
        Request::DescribeTopicConfigs { topics: vec![] },
    ));
    v.push(case(
        "one",
        Request::DescribeTopicConfigs {
            topics: strings(&["events"]),
        },
    ));
    v.push(case(
        "several",
        Request::DescribeTopicConfigs {
            topics: strings(&["events", "", UNICODE]),
        },
    ));

    v.push(case(
        "current",
        Request::Handshake {
            protocol_version: rivven_protocol::PROTOCOL_VERSION,
            client_id: s("rivven-rx"),
        },
    ));
    v.push(case(
        "zeros",
        Request::Handshake {
            protocol_version: 0,
            client_id: s(""),
        },
    ));
    v.push(case(
        "maxima",
        Request::Handshake {
            protocol_version: u32::MAX,
            client_id: s(UNICODE),
        },
    ));
    v.push(case(
        "max-name",
        Request::Handshake {
            protocol_version: 1,
            client_id: name_of_len(256),
        },
    ));
}

fn groups(v: &mut Vec<Case<Request>>) {
    v.push(case(
        "first-join",
        Request::JoinGroup {
            group_id: s("g"),
            member_id: s(""),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: s("consumer"),
            subscriptions: strings(&["events"]),
        },
    ));
    v.push(case(
        "rejoin-several",
        Request::JoinGroup {
            group_id: s(UNICODE),
            member_id: s("rivven-rx-1b2c3d"),
            session_timeout_ms: u32::MAX,
            rebalance_timeout_ms: u32::MAX,
            protocol_type: s("consumer"),
            subscriptions: strings(&["events", "orders", UNICODE, ""]),
        },
    ));
    v.push(case(
        "zeros",
        Request::JoinGroup {
            group_id: s(""),
            member_id: s(""),
            session_timeout_ms: 0,
            rebalance_timeout_ms: 0,
            protocol_type: s(""),
            subscriptions: vec![],
        },
    ));

    v.push(case(
        "follower",
        Request::SyncGroup {
            group_id: s("g"),
            generation_id: 1,
            member_id: s("m-2"),
            assignments: vec![],
        },
    ));
    v.push(case(
        "leader",
        Request::SyncGroup {
            group_id: s("g"),
            generation_id: 7,
            member_id: s("m-1"),
            assignments: vec![
                (
                    s("m-1"),
                    vec![(s("events"), vec![0, 2, 4]), (s("orders"), vec![1])],
                ),
                (
                    s("m-2"),
                    vec![(s("events"), vec![1, 3, 5]), (s(UNICODE), vec![])],
                ),
                (s("m-3"), vec![]),
            ],
        },
    ));
    v.push(case(
        "maxima",
        Request::SyncGroup {
            group_id: s(UNICODE),
            generation_id: u32::MAX,
            member_id: s(UNICODE),
            assignments: vec![(s(UNICODE), vec![(s("t"), vec![0, 127, 128, u32::MAX])])],
        },
    ));

    v.push(case(
        "zeros",
        Request::Heartbeat {
            group_id: s(""),
            generation_id: 0,
            member_id: s(""),
        },
    ));
    v.push(case(
        "typical",
        Request::Heartbeat {
            group_id: s("g"),
            generation_id: 3,
            member_id: s("m-1"),
        },
    ));
    v.push(case(
        "maxima",
        Request::Heartbeat {
            group_id: s(UNICODE),
            generation_id: u32::MAX,
            member_id: s(UNICODE),
        },
    ));

    v.push(case(
        "typical",
        Request::LeaveGroup {
            group_id: s("g"),
            member_id: s("m-1"),
        },
    ));
    v.push(case(
        "empty",
        Request::LeaveGroup {
            group_id: s(""),
            member_id: s(""),
        },
    ));
    v.push(case(
        "unicode",
        Request::LeaveGroup {
            group_id: s(UNICODE),
            member_id: s(UNICODE),
        },
    ));
}

/// A few records covering key None / Some(empty) / Some(data) and value empty / text / binary.
fn mixed_records() -> Vec<BatchRecord> {
    vec![
        BatchRecord {
            key: None,
            value: b(b"first"),
        },
        BatchRecord {
            key: Some(empty()),
            value: empty(),
        },
        BatchRecord {
            key: Some(b(b"user-42")),
            value: b(UNICODE.as_bytes()),
        },
        BatchRecord {
            key: Some(b(&[0x00, 0xff, 0x80])),
            value: all_bytes(),
        },
    ]
}

/// 1000 small records, deterministic, every third without a key.
fn large_records() -> Vec<BatchRecord> {
    (0..1000u32)
        .map(|i| BatchRecord {
            key: (i % 3 != 0).then(|| b(format!("key-{i}").as_bytes())),
            value: b(format!("{{\"seq\":{i},\"payload\":\"record number {i}\"}}").as_bytes()),
        })
        .collect()
}

fn batches(v: &mut Vec<Case<Request>>) {
    v.push(case(
        "empty",
        Request::PublishBatch {
            topic: s("t"),
            partition: None,
            records: vec![],
            leader_epoch: None,
        },
    ));
    v.push(case(
        "mixed",
        Request::PublishBatch {
            topic: s("events"),
            partition: None,
            records: mixed_records(),
            leader_epoch: None,
        },
    ));
    v.push(case(
        "maxima",
        Request::PublishBatch {
            topic: s(UNICODE),
            partition: Some(u32::MAX),
            records: vec![BatchRecord {
                key: Some(b(b"k")),
                value: b(b"v"),
            }],
            leader_epoch: Some(u64::MAX),
        },
    ));
    v.push(case(
        "partition-zero",
        Request::PublishBatch {
            topic: s("orders"),
            partition: Some(0),
            records: mixed_records(),
            leader_epoch: Some(0),
        },
    ));
    v.push(case(
        "large-1000",
        Request::PublishBatch {
            topic: s("bench"),
            partition: Some(2),
            records: large_records(),
            leader_epoch: Some(5),
        },
    ));

    v.push(case(
        "empty",
        Request::IdempotentPublishBatch {
            topic: s("t"),
            partition: None,
            records: vec![],
            producer_id: 0,
            producer_epoch: 0,
            base_sequence: 0,
            leader_epoch: None,
        },
    ));
    v.push(case(
        "mixed",
        Request::IdempotentPublishBatch {
            topic: s("events"),
            partition: Some(1),
            records: mixed_records(),
            producer_id: 42,
            producer_epoch: 3,
            base_sequence: 100,
            leader_epoch: Some(2),
        },
    ));
    v.push(case(
        "maxima",
        Request::IdempotentPublishBatch {
            topic: s(UNICODE),
            partition: Some(u32::MAX),
            records: vec![BatchRecord {
                key: None,
                value: empty(),
            }],
            producer_id: u64::MAX,
            producer_epoch: u16::MAX,
            base_sequence: i32::MAX,
            leader_epoch: Some(u64::MAX),
        },
    ));
    v.push(case(
        "negative-sequence",
        Request::IdempotentPublishBatch {
            topic: s("orders"),
            partition: Some(0),
            records: mixed_records(),
            producer_id: MAX_SAFE,
            producer_epoch: 1,
            base_sequence: i32::MIN,
            leader_epoch: None,
        },
    ));
}
