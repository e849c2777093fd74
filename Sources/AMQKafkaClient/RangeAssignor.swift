import AMQKafkaProtocol
import NIOCore

/// Kafka's `range` assignor (`org.apache.kafka.clients.consumer.RangeAssignor`): per topic, the
/// members subscribed to it, sorted by member id, each take a consecutive range of partitions;
/// the first `partitions % members` take one extra.
package enum RangeAssignor {
    package static let protocolName = "range"

    /// member id → topic → partitions. Every member appears, even with nothing assigned.
    package static func assign(subscriptions: [String: [String]], partitionCounts: [String: Int]) -> [String: [String: [Int32]]] {
        var result: [String: [String: [Int32]]] = Dictionary(uniqueKeysWithValues: subscriptions.keys.map { ($0, [:]) })
        let topics = Set(subscriptions.values.flatMap { $0 })
        for topic in topics.sorted() {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            let members = subscriptions.filter { $0.value.contains(topic) }.keys.sorted()
            let perMember = count / members.count
            let extra = count % members.count
            for (index, member) in members.enumerated() {
                let start = perMember * index + min(index, extra)
                let length = perMember + (index < extra ? 1 : 0)
                if length > 0 { result[member, default: [:]][topic] = (start..<(start + length)).map { Int32($0) } }
            }
        }
        return result
    }
}

/// The classic consumer protocol's embedded bytes: `ConsumerProtocolSubscription` in JoinGroup
/// metadata and `ConsumerProtocolAssignment` in SyncGroup, each after an int16 version, as
/// Kafka's `ConsumerProtocol` writes them.
package enum ConsumerProtocolBytes {
    /// Written at v0, which every client reads; newer fields (owned partitions, rack) are for
    /// cooperative and rack-aware assignors, which amq does not use.
    static let writeVersion: Int16 = 0

    package static func subscription(topics: [String]) -> [UInt8] {
        encode(ConsumerProtocolSubscription(topics: topics, userData: nil))
    }

    package static func assignment(_ partitions: [String: [Int32]]) -> [UInt8] {
        encode(ConsumerProtocolAssignment(assignedPartitions: partitions.sorted { $0.key < $1.key }.map { .init(topic: $0.key, partitions: $0.value) }, userData: nil))
    }

    private static func encode(_ value: some KafkaStruct) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(writeVersion)
        value.encode(into: &buffer, version: writeVersion)
        return Array(buffer.readableBytesView)
    }

    /// Reads bytes of any version: a newer one is read as the newest we know, since versions only
    /// append fields.
    package static func decodeSubscription(_ bytes: [UInt8]) throws -> ConsumerProtocolSubscription {
        try decode(bytes, max: ConsumerProtocolSubscription.validVersions.upperBound)
    }

    /// Empty bytes (a member given nothing) decode as an empty assignment.
    package static func decodeAssignment(_ bytes: [UInt8]) throws -> ConsumerProtocolAssignment {
        if bytes.isEmpty { return ConsumerProtocolAssignment() }
        return try decode(bytes, max: ConsumerProtocolAssignment.validVersions.upperBound)
    }

    private static func decode<T: KafkaStruct>(_ bytes: [UInt8], max: Int16) throws -> T {
        var buffer = ByteBuffer(bytes: bytes)
        guard let version: Int16 = buffer.readInteger(), version >= 0 else {
            throw KafkaClientError(.protocolError, "consumer protocol bytes too short")
        }
        do {
            return try T(from: &buffer, version: min(version, max))
        } catch {
            throw KafkaClientError(.protocolError, "cannot read consumer protocol v\(version) bytes: \(error)", underlying: error)
        }
    }
}
