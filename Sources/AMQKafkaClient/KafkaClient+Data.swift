import AMQKafkaProtocol
import NIOCore

/// What a Produce did to one partition.
package struct ProducedPartition: Sendable, Equatable {
    package var partition: Int32
    /// The first record's offset; `KafkaSentinel.unknownOffset` with acks=0, where the broker does not say.
    package var baseOffset: Int64
    package var count: Int
}

/// Which offset ListOffsets asks for.
package enum OffsetSpec: Sendable {
    case earliest
    case latest

    var timestamp: Int64 { self == .earliest ? ListOffsetsTimestamp.earliest : ListOffsetsTimestamp.latest }
}

/// One Fetch round over some partitions.
package struct FetchRound: Sendable {
    package var records: [FetchedRecord] = []
    /// Where each fetched partition continues.
    package var nextOffsets: [Int32: Int64] = [:]
    package var highWatermarks: [Int32: Int64] = [:]
    /// Partitions whose offset is outside the log (the caller resets them).
    package var outOfRange: [Int32] = []
    /// Batches skipped, as sentences for stderr.
    package var skipped: [String] = []
}

extension KafkaClient {
    // MARK: Produce

    /// Produces `records` (per partition) to `topic`: one uncompressed batch per partition, one
    /// request per leader. Partitions whose leader moved are retried after a Metadata refresh
    /// (without idempotence a retry after an unanswered request may duplicate, as with any
    /// non-idempotent Kafka producer).
    package func produce(topic name: String, records: [Int32: [Record]], acks: ProduceAcks) async throws -> [ProducedPartition] {
        var remaining = records.filter { !$0.value.isEmpty }
        var done: [ProducedPartition] = []
        var attempt = 0
        while !remaining.isEmpty {
            attempt += 1
            guard attempt <= configuration.attempts else {
                throw KafkaClientError(
                    .brokerError, "Produce to \(name) partitions \(remaining.keys.sorted()) got no answer for them after \(configuration.attempts) attempts"
                )
            }
            if attempt > 1 { try await backoff(attempt - 1) }
            let topic = try await topic(name)
            var byLeader: [BrokerAddress: [Int32]] = [:]
            for partition in remaining.keys.sorted() {
                let address = try leader(topic, partition)
                byLeader[address, default: []].append(partition)
            }
            for (address, partitions) in byLeader {
                let outcome = try await produce(name, partitions.map { ($0, remaining[$0] ?? []) }, to: address, acks: acks)
                for produced in outcome.produced {
                    done.append(produced)
                    remaining[produced.partition] = nil
                }
                if let (partition, code) = outcome.failed.first {
                    guard code.isRetriableWithRefresh, attempt < configuration.attempts else {
                        throw KafkaClientError.broker(code, "Produce to \(name) partition \(partition) via \(address)")
                    }
                    invalidate(name)
                }
            }
        }
        return done.sorted { $0.partition < $1.partition }
    }

    private func produce(
        _ topic: String, _ batches: [(Int32, [Record])], to address: BrokerAddress, acks: ProduceAcks
    ) async throws -> (produced: [ProducedPartition], failed: [(Int32, KafkaErrorCode)]) {
        let timeoutMs = Int32(configuration.requestTimeout.inMilliseconds)
        let request: (Int16) -> ProduceRequest = { _ in
            ProduceRequest(
                transactionalId: nil, acks: acks.rawValue, timeoutMs: timeoutMs,
                topicData: [
                    .init(
                        name: topic,
                        partitionData: batches.map { .init(index: $0.0, records: RecordBatchBuilder.batch($0.1)) }
                    )
                ]
            )
        }
        if acks == .none {
            try await send(address, request)
            return (batches.map { ProducedPartition(partition: $0.0, baseOffset: KafkaSentinel.unknownOffset, count: $0.1.count) }, [])
        }
        let (response, _) = try await call(address, request)
        var produced: [ProducedPartition] = []
        var failed: [(Int32, KafkaErrorCode)] = []
        let counts = Dictionary(batches.map { ($0.0, $0.1.count) }, uniquingKeysWith: +)
        for partition in response.responses.filter({ $0.name == topic }).flatMap(\.partitionResponses) {
            if partition.errorCode == .none {
                produced.append(ProducedPartition(partition: partition.index, baseOffset: partition.baseOffset, count: counts[partition.index] ?? 0))
            } else {
                failed.append((partition.index, partition.errorCode))
            }
        }
        return (produced, failed)
    }

    // MARK: ListOffsets

    /// The earliest or latest offset of each partition (latest = the high watermark).
    package func listOffsets(topic name: String, partitions: [Int32], spec: OffsetSpec) async throws -> [Int32: Int64] {
        var result: [Int32: Int64] = [:]
        var remaining = Set(partitions)
        for attempt in 1...configuration.attempts {
            if attempt > 1 { try await backoff(attempt - 1) }
            let topic = try await topic(name)
            var byLeader: [BrokerAddress: [Int32]] = [:]
            for partition in remaining.sorted() {
                let address = try leader(topic, partition)
                byLeader[address, default: []].append(partition)
            }
            var lastError: (Int32, KafkaErrorCode)?
            for (address, group) in byLeader {
                let (response, _) = try await call(address) { _ in
                    ListOffsetsRequest(
                        replicaId: KafkaSentinel.consumerReplicaID, isolationLevel: IsolationLevel.readUncommitted,
                        topics: [
                            .init(
                                name: name,
                                partitions: group.map {
                                    .init(partitionIndex: $0, currentLeaderEpoch: KafkaSentinel.unknownLeaderEpoch, timestamp: spec.timestamp)
                                }
                            )
                        ]
                    )
                }
                for partition in response.topics.filter({ $0.name == name }).flatMap(\.partitions) {
                    if partition.errorCode == .none {
                        result[partition.partitionIndex] = partition.offset
                        remaining.remove(partition.partitionIndex)
                    } else {
                        lastError = (partition.partitionIndex, partition.errorCode)
                    }
                }
            }
            if remaining.isEmpty { return result }
            if let (partition, code) = lastError {
                guard code.isRetriableWithRefresh else {
                    throw KafkaClientError.broker(code, "ListOffsets for \(name) partition \(partition)")
                }
            }
            invalidate(name)
        }
        throw KafkaClientError(.brokerError, "ListOffsets for \(name) partitions \(remaining.sorted()) failed after \(configuration.attempts) attempts")
    }

    // MARK: Fetch

    /// One Fetch from each leader of the partitions in `offsets`, in parallel. Waits up to
    /// `maxWait` for data at the end of the log. A partition whose leader moved is left out of
    /// this round (its metadata is refreshed for the next one).
    package func fetch(topic name: String, offsets: [Int32: Int64], maxWait: Duration, maxBytes: Int32 = 4 << 20) async throws -> FetchRound {
        let topic = try await topic(name)
        var byLeader: [BrokerAddress: [Int32]] = [:]
        for partition in offsets.keys.sorted() {
            let address = try leader(topic, partition)
            byLeader[address, default: []].append(partition)
        }
        let timeout = configuration.requestTimeout + maxWait
        var round = FetchRound()
        try await withThrowingTaskGroup(of: (FetchResponse, [Int32]).self) { group in
            for (address, partitions) in byLeader {
                let request = FetchRequest(
                    replicaId: KafkaSentinel.consumerReplicaID, maxWaitMs: Int32(maxWait.inMilliseconds), minBytes: 1, maxBytes: maxBytes,
                    isolationLevel: IsolationLevel.readUncommitted, sessionId: KafkaSentinel.noFetchSession,
                    sessionEpoch: KafkaSentinel.finalFetchSessionEpoch,
                    topics: [
                        .init(
                            topic: name,
                            partitions: partitions.map {
                                .init(
                                    partition: $0, currentLeaderEpoch: KafkaSentinel.unknownLeaderEpoch, fetchOffset: offsets[$0] ?? 0,
                                    logStartOffset: KafkaSentinel.unknownOffset, partitionMaxBytes: maxBytes
                                )
                            }
                        )
                    ]
                )
                group.addTask { (try await self.call(address, timeout: timeout) { _ in request }.response, partitions) }
            }
            for try await (response, _) in group {
                guard response.errorCode == .none else { throw KafkaClientError.broker(response.errorCode, "Fetch from \(name)") }
                for data in response.responses.filter({ $0.topic == name }).flatMap(\.partitions) {
                    let partition = data.partitionIndex
                    let offset = offsets[partition] ?? 0
                    switch data.errorCode {
                    case .none:
                        let batches = FetchedBatches.parse(data.records, partition: partition, from: offset)
                        round.records += batches.records
                        round.skipped += batches.skipped
                        round.nextOffsets[partition] = batches.nextOffset
                        round.highWatermarks[partition] = data.highWatermark
                    case .offsetOutOfRange:
                        round.outOfRange.append(partition)
                    case let code where code.isRetriableWithRefresh:
                        invalidate(name)
                    case let code:
                        throw KafkaClientError.broker(code, "Fetch from \(name) partition \(partition)")
                    }
                }
            }
        }
        round.records.sort { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
        return round
    }
}
