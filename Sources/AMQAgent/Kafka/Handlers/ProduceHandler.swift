import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import AMQStreamIndex
import Logging
import AMQStorage
import NIOCore
import Synchronization

/// Produce v3–11 (v0–2 are advertised for librdkafka 2.0.2's sake, never decoded). Each
/// partition's data must be exactly one record batch of magic 2 (INVALID_RECORD otherwise, as
/// Kafka ≥ 3 requires), with a known codec (zstd needs v7+), no larger than the topic's
/// `max.message.bytes`, CRC-checked by the storage engine and stored as sent. Batches are staged
/// with the engine in request order before the next request is read, then the response waits for
/// their commit: acks 1 and all alike, since S3 is the only replica (docs/architecture.md). acks=0 gets no
/// response. Idempotent batches are sequence-checked by the engine: a retry is answered with its
/// original offset, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER. Transactions are not supported.
///
/// Zone routing: for a topic with routing on, the agent that represents a partition in the
/// client's zone takes its produces. When that is the partition's read-only replica, the batches
/// are validated, added to the router buffer, uploaded with it, and the leader gets a pointer;
/// the answer waits for the leader's commit. Any other agent answers NOT_LEADER_OR_FOLLOWER, so
/// the client refreshes its metadata and moves to its zone (docs/zone-routing.md).
struct ProduceHandler {
    let broker: KafkaBroker

    /// How long a produce waits for this agent to take a partition the topology already gives it.
    static let leadershipWait: Duration = .seconds(5)

    /// Stages on this agent, which the topology names leader. Its engine may still be loading the
    /// log (a topic created a moment ago): then the produce waits for it, briefly, rather than be
    /// refused with NOT_LEADER_OR_FOLLOWER by the leader Metadata just named. Only a refused try
    /// pays for the wait; the usual produce is staged at the first.
    private static func stage(_ records: ByteBuffer, on storage: StorageEngine, _ key: PartitionKey, leader node: Int) async throws -> PendingAppend {
        let deadline = ContinuousClock.now + leadershipWait
        while true {
            do {
                return try await storage.stage(key, batches: records)
            } catch let error as StorageError where isBeingTaken(error, by: node) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    /// The engine does not lead the partition yet, and nobody else is known to.
    private static func isBeingTaken(_ error: StorageError, by node: Int) -> Bool {
        error.code == .notLeader && (error.leader == nil || error.leader == node)
    }

    /// Kafka's default `max.message.bytes`.
    static let defaultMaxMessageBytes = 1_048_588

    private enum Staged: Sendable {
        case pending(PendingAppend, PartitionKey)
        /// Proxied to the partition's leader in another zone.
        case routed(Completion<AppendResult>, PartitionKey)
        case failed(KafkaErrorCode, String)
    }

    func start(_ request: ProduceRequest, _ context: KafkaRequestContext) async -> KafkaBroker.Start {
        guard ProduceAcks(rawValue: request.acks) != nil else {
            let response = ProduceResponse(
                responses: request.topicData.map { topic in
                    .init(
                        name: topic.name,
                        partitionResponses: topic.partitionData.map {
                            .init(index: $0.index, errorCode: .invalidRequiredAcks, baseOffset: KafkaSentinel.unknownOffset)
                        }
                    )
                }
            )
            return .respond(context.frame(response))
        }
        let view = await broker.view()
        // One client, one zone: found once for the whole request.
        let zone = view.flatMap { broker.clientZone(context, view: $0) }
        var staged: [[Staged]] = []
        for topic in request.topicData {
            var partitions: [Staged] = []
            for data in topic.partitionData {
                partitions.append(await stage(topic.name, data, request: request, view: view, zone: zone, context: context))
            }
            staged.append(partitions)
        }
        let acks = request.acks
        // The answer needs the topics' names and partition indexes only: the request itself (its
        // records, a slice of the connection's read buffer) must not live until the commit.
        let shape = request.topicData.map { topic in (name: topic.name, partitions: topic.partitionData.map(\.index)) }
        let outcomes = staged
        let metrics = broker.metrics
        // The producer's timeoutMs bounds the wait for the commit: past it the answer is
        // REQUEST_TIMED_OUT (the append may still land; an idempotent retry is answered from it).
        let deadline: ContinuousClock.Instant? = request.timeoutMs > 0 ? .now + .milliseconds(Int64(request.timeoutMs)) : nil
        return .run {
            let answers = await Self.finish(outcomes, indexes: shape.map(\.partitions), storage: view?.storage, deadline: deadline)
            var response = ProduceResponse()
            for (topic, results) in zip(shape, answers) {
                response.responses.append(.init(name: topic.name, partitionResponses: results))
            }
            if acks == ProduceAcks.none.rawValue {
                // Nobody is listening for errors: say it where an operator will see it.
                for partition in response.responses.flatMap(\.partitionResponses) where partition.errorCode != .none {
                    metrics.unacknowledgedProduceFailed()
                    context.logger.warning(
                        "acks=0 produce failed", metadata: ["amq.partition": "\(partition.index)", "amq.error": "\(partition.errorMessage ?? "")"]
                    )
                }
                return nil
            }
            return context.frame(response)
        }
    }

    private func stage(
        _ topicName: String, _ data: ProduceRequest.PartitionProduceData, request: ProduceRequest, view: BrokerView?,
        zone: ClientZone?, context: KafkaRequestContext
    ) async -> Staged {
        // Before anything else, so an unauthorized client learns nothing of the topic.
        guard context.may(.write, .topic, topicName) else {
            return .failed(.topicAuthorizationFailed, "\(context.access.principal) may not write to \(topicName)")
        }
        guard let view, let storage = view.storage else {
            return .failed(.notLeaderOrFollower, "this agent is starting up")
        }
        guard let topic = view.topic(topicName), let placement = view.partition(topicName, Int(data.index)) else {
            return .failed(.unknownTopicOrPartition, "unknown topic or partition \(topicName)-\(data.index)")
        }
        if request.transactionalId != nil {
            return .failed(.transactionalIDAuthorizationFailed, "transactions are not supported")
        }
        guard let records = data.records, records.readableBytes > 0 else {
            return .failed(.invalidRecord, "no records")
        }
        let maxBytes = topic.config.extra["max.message.bytes"].flatMap(Int.init) ?? Self.defaultMaxMessageBytes
        if records.readableBytes > maxBytes {
            return .failed(.messageTooLarge, "\(records.readableBytes) bytes exceed max.message.bytes \(maxBytes)")
        }
        guard let header = RecordBatchHeader(records, at: records.readerIndex) else {
            return .failed(.corruptMessage, "truncated record batch")
        }
        guard header.magic == 2 else {
            return .failed(.unsupportedForMessageFormat, "record batch magic \(header.magic); only magic 2 is supported")
        }
        guard header.totalSize == records.readableBytes else {
            return header.totalSize < records.readableBytes
                ? .failed(.invalidRecord, "a produce request carries exactly one record batch per partition")
                : .failed(.corruptMessage, "record batch length \(header.totalSize) exceeds the \(records.readableBytes) bytes sent")
        }
        // Kafka's LogValidator: the record count must match the offset range the header claims,
        // or offsets would be handed out for records that are not there (or the reverse).
        guard header.recordsCount > 0, Int64(header.lastOffsetDelta) + 1 == Int64(header.recordsCount) else {
            return .failed(
                .invalidRecord, "record batch claims \(Int64(header.lastOffsetDelta) + 1) offsets for \(header.recordsCount) records; they must agree"
            )
        }
        guard let codec = CompressionCodec(rawValue: Int16(header.compression)) else {
            return .failed(.unsupportedCompressionType, "unknown compression codec \(header.compression)")
        }
        if codec == .zstd, context.version < 7 {
            return .failed(.unsupportedCompressionType, "zstd needs Produce v7 or later")
        }
        if header.isTransactional || header.isControl {
            return .failed(.transactionalIDAuthorizationFailed, "transactional batches are not supported")
        }
        let key = PartitionKey(topicID: topic.id, partition: Int(data.index))
        switch view.serving(topic, placement, clientZone: zone) {
        case .leader:
            do {
                return .pending(try await Self.stage(records, on: storage, key, leader: view.node.id), key)
            } catch let error as StorageError where Self.isBeingTaken(error, by: view.node.id) {
                return .failed(.leaderNotAvailable, "taking the leadership of \(topicName)-\(data.index)")
            } catch {
                return .failed(KafkaErrorCode(error), "\(error)")
            }
        case .replica(let leader):
            guard let router = view.router else { return .failed(.notLeaderOrFollower, "this agent is starting up") }
            do {
                let headers = try RecordBatchHeader.validateBatches(records)
                let linger = Duration.milliseconds(topic.config.lingerMs)
                return .routed(try await router.route(key, leader: leader, batches: records, headers: headers, linger: linger), key)
            } catch let error as RecordBatchError {
                return .failed(.corruptMessage, "\(error) (partition \(topicName)-\(data.index))")
            } catch {
                return .failed(KafkaErrorCode(error), "\(error)")
            }
        case .elsewhere(let node):
            return .failed(.notLeaderOrFollower, "node \(node) serves \(topicName)-\(data.index) to this client")
        }
    }

    /// Every partition's answer (`indexes` are theirs, per topic), once what became of its
    /// batches is known, or REQUEST_TIMED_OUT for those still waiting when `deadline` passes. One
    /// timer per request, not one task pair per partition.
    private static func finish(
        _ staged: [[Staged]], indexes: [[Int32]], storage: StorageEngine?, deadline: ContinuousClock.Instant?
    ) async -> [[ProduceResponse.PartitionProduceResponse]] {
        let answers = Answers(staged.map { [ProduceResponse.PartitionProduceResponse?](repeating: nil, count: $0.count) })
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for (t, partitions) in staged.enumerated() {
                    for (p, outcome) in partitions.enumerated() {
                        let answer = await Self.answer(outcome, index: indexes[t][p], storage: storage)
                        // Past the deadline the partitions still waiting are answered as timed out.
                        guard !Task.isCancelled else { return }
                        answers.slots.withLock { $0[t][p] = answer }
                    }
                }
            }
            if let deadline { group.addTask { try? await Task.sleep(until: deadline) } }
            await group.next()
            group.cancelAll()
        }
        return answers.slots.withLock { answers in
            zip(answers, indexes).map { partitions, indexes in
                zip(partitions, indexes).map { answer, index in
                    answer
                        ?? .init(
                            index: index, errorCode: .requestTimedOut, baseOffset: KafkaSentinel.unknownOffset,
                            errorMessage: "not committed within the request's timeout; the object store may be slow"
                        )
                }
            }
        }
    }

    /// The answers given so far, shared by the waiting task and the one that reads them.
    private final class Answers: Sendable {
        let slots: Mutex<[[ProduceResponse.PartitionProduceResponse?]]>
        init(_ slots: [[ProduceResponse.PartitionProduceResponse?]]) { self.slots = Mutex(slots) }
    }

    /// One partition's answer once its outcome is known.
    private static func answer(_ outcome: Staged, index: Int32, storage: StorageEngine?) async -> ProduceResponse.PartitionProduceResponse {
        let key: PartitionKey
        let result: AppendResult
        do {
            switch outcome {
            case .failed(let code, let message):
                return .init(index: index, errorCode: code, baseOffset: KafkaSentinel.unknownOffset, errorMessage: message)
            case .pending(let pending, let partition):
                (key, result) = (partition, try await pending.result())
            case .routed(let route, let partition):
                (key, result) = (partition, try await route.result())
            }
        } catch {
            return .init(index: index, errorCode: KafkaErrorCode(error), baseOffset: KafkaSentinel.unknownOffset, errorMessage: "\(error)")
        }
        let logStart = (try? await storage?.bounds(key).logStart) ?? KafkaSentinel.unknownOffset
        return .init(index: index, errorCode: .none, baseOffset: result.baseOffset, logStartOffset: logStart)
    }
}
