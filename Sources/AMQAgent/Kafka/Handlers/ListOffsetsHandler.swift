import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import AMQStreamIndex
import Logging
import AMQStorage

/// ListOffsets v1–7 and OffsetForLeaderEpoch v2–4, answered by the partition's leader — or, for a
/// topic with routing on, by its read-only replica in the client's zone, from what it knows.
///
/// ListOffsets: -2 earliest (log start), -1 latest (high watermark; also the last stable offset,
/// as there are no transactions), -3 the record with the largest timestamp (v7), else the first
/// offset whose timestamp is at or after the one asked (-1/-1 when none is).
///
/// OffsetForLeaderEpoch: amq never truncates a committed log — the controller's fenced commits
/// are the only history — so for any epoch up to the current one the answer is "your epoch ends
/// at the high watermark", which tells a client (librdkafka ≥ 2.1 after a restart) that nothing
/// it read was lost.
struct ListOffsetsHandler {
    let broker: KafkaBroker

    func handle(_ request: ListOffsetsRequest, _ context: KafkaRequestContext) async throws -> ListOffsetsResponse {
        let view = await broker.view()
        let zone = view.flatMap { broker.clientZone(context, view: $0) }
        var response = ListOffsetsResponse()
        for topic in request.topics {
            var partitions: [ListOffsetsResponse.ListOffsetsPartitionResponse] = []
            for partition in topic.partitions {
                var out = ListOffsetsResponse.ListOffsetsPartitionResponse(partitionIndex: partition.partitionIndex)
                guard context.may(.describe, .topic, topic.name) else {
                    out.errorCode = .topicAuthorizationFailed
                    partitions.append(out)
                    continue
                }
                do {
                    let (storage, key, epoch) = try await Self.readable(topic.name, partition.partitionIndex, view: view, zone: zone)
                    if let error = FetchHandler.checkEpoch(partition.currentLeaderEpoch, against: epoch) {
                        out.errorCode = error
                    } else {
                        out.leaderEpoch = Int32(epoch)
                        switch partition.timestamp {
                        case ListOffsetsTimestamp.earliest:
                            out.offset = try await storage.bounds(key).logStart
                        case ListOffsetsTimestamp.latest:
                            out.offset = try await storage.bounds(key).highWatermark
                        case ListOffsetsTimestamp.maxTimestamp:
                            if let hit = try await storage.offsetOfMaxTimestamp(in: key) {
                                out.offset = hit.offset
                                out.timestamp = hit.timestamp
                            }
                        case let timestamp where timestamp >= 0:
                            if let hit = try await storage.offset(forTimestamp: timestamp, in: key) {
                                out.offset = hit.offset
                                out.timestamp = hit.timestamp
                            }
                        default:
                            out.errorCode = .invalidRequest
                        }
                    }
                } catch {
                    out.errorCode = KafkaErrorCode(error)
                }
                partitions.append(out)
            }
            response.topics.append(.init(name: topic.name, partitions: partitions))
        }
        return response
    }

    func handle(_ request: OffsetForLeaderEpochRequest, _ context: KafkaRequestContext) async throws -> OffsetForLeaderEpochResponse {
        let view = await broker.view()
        let zone = view.flatMap { broker.clientZone(context, view: $0) }
        var response = OffsetForLeaderEpochResponse()
        for topic in request.topics {
            var partitions: [OffsetForLeaderEpochResponse.EpochEndOffset] = []
            for partition in topic.partitions {
                var out = OffsetForLeaderEpochResponse.EpochEndOffset(partition: partition.partition)
                guard context.may(.describe, .topic, topic.topic) else {
                    out.errorCode = .topicAuthorizationFailed
                    partitions.append(out)
                    continue
                }
                do {
                    let (storage, key, epoch) = try await Self.readable(topic.topic, partition.partition, view: view, zone: zone)
                    if let error = FetchHandler.checkEpoch(partition.currentLeaderEpoch, against: epoch) {
                        out.errorCode = error
                    } else if Int(partition.leaderEpoch) > epoch {
                        // An epoch from the future: Kafka answers "unknown" (-1/-1).
                        out.leaderEpoch = KafkaSentinel.unknownLeaderEpoch
                        out.endOffset = KafkaSentinel.unknownOffset
                    } else {
                        out.leaderEpoch = partition.leaderEpoch
                        out.endOffset = try await storage.bounds(key).highWatermark
                    }
                } catch {
                    out.errorCode = KafkaErrorCode(error)
                }
                partitions.append(out)
            }
            response.topics.append(.init(topic: topic.topic, partitions: partitions))
        }
        return response
    }

    /// Served by the leader, or by the read-only replica in the client's zone for a routed topic.
    private static func readable(_ topic: String, _ partition: Int32, view: BrokerView?, zone: ClientZone?) async throws -> (StorageEngine, PartitionKey, Int) {
        guard let view else { throw BrokerView.NotLed(code: .notLeaderOrFollower) }
        return try await view.readable(topic, partition, clientZone: zone)
    }
}
