import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import AMQStreamIndex
import Logging
import AMQStorage
import NIOCore

/// Fetch v4–12, served by the partition's leader from its storage engine (log cache, else range
/// GETs through the block cache). Whole batches are returned from the one holding the fetch
/// offset (clients skip the records before it), up to the partition's and the response's max
/// bytes — at least one batch for the first partition with data, so an oversized batch still gets
/// through (KIP-74). With less than `minBytes` ready the request parks on all its partitions until
/// data arrives or `maxWait` passes. No transactions, so read_committed sees the same as
/// read_uncommitted and the last stable offset is the high watermark. Fetch sessions (KIP-227)
/// are not kept: session id 0 makes clients send full fetches. A `currentLeaderEpoch` other than
/// ours gets FENCED_LEADER_EPOCH (older) or UNKNOWN_LEADER_EPOCH (newer).
///
/// Zone routing: for a topic with routing on, the partition's read-only replica in the client's
/// zone serves the fetch from the object store (it learns the committed end from the leader);
/// any agent other than the client's zone's representative answers NOT_LEADER_OR_FOLLOWER, naming
/// it in the current-leader hint (v12+). docs/zone-routing.md.
struct FetchHandler {
    let broker: KafkaBroker

    private struct Slot {
        var topic: Int
        var partition: Int
        var key: PartitionKey?
        var offset: Int64
        var maxBytes: Int
    }

    /// The longest a fetch waits for data, whatever it asks: clients give up on a request after
    /// their request timeout (30 s in the Java client) anyway, and a Go client that sets no
    /// deadline asks for 2³¹−1 ms.
    static let maxWait = Duration.seconds(30)

    func handle(_ request: FetchRequest, _ context: KafkaRequestContext) async throws -> FetchResponse {
        let deadline = ContinuousClock.now + min(.milliseconds(max(0, Int(request.maxWaitMs))), Self.maxWait)
        var response = FetchResponse(
            responses: request.topics.map { topic in
                .init(topic: topic.topic, partitions: topic.partitions.map { .init(partitionIndex: $0.partition, highWatermark: KafkaSentinel.unknownOffset, records: ByteBuffer()) })
            }
        )
        guard let view = await broker.view(), let storage = view.storage else {
            setAll(&response, .notLeaderOrFollower)
            return response
        }
        // Which partitions can be read here at all: those it leads, or replicates in the client's
        // zone for a routed topic (the rack a KIP-392 client sends counts as its zone).
        let zone = broker.clientZone(context, view: view, rack: request.rackId)
        var slots: [Slot] = []
        for (t, topic) in request.topics.enumerated() {
            let readable = context.may(.read, .topic, topic.topic)
            for (p, partition) in topic.partitions.enumerated() {
                guard readable else {
                    response.responses[t].partitions[p].errorCode = .topicAuthorizationFailed
                    continue
                }
                let key: PartitionKey
                let epoch: Int
                do {
                    (_, key, epoch) = try await view.readable(topic.topic, partition.partition, clientZone: zone)
                } catch {
                    response.responses[t].partitions[p].errorCode = error.code
                    if let leader = error.leader, let epoch = error.epoch {
                        // KIP-951: where this client should go instead (tagged, so older clients ignore it).
                        response.responses[t].partitions[p].currentLeader = .init(leaderId: Int32(leader), leaderEpoch: Int32(epoch))
                    }
                    continue
                }
                if let error = Self.checkEpoch(partition.currentLeaderEpoch, against: epoch) {
                    response.responses[t].partitions[p].errorCode = error
                    continue
                }
                slots.append(Slot(topic: t, partition: p, key: key, offset: partition.fetchOffset, maxBytes: Int(max(0, partition.partitionMaxBytes))))
            }
        }
        let isolation = request.isolationLevel
        // The cluster's fetch.max.bytes bounds what a client may ask (a client asking 2 GiB would
        // overflow the frame's 32-bit length), as Kafka's broker setting does.
        let responseMax = min(Int(request.maxBytes <= 0 ? Int32.max : request.maxBytes), view.topology.settings.fetchMaxBytes)
        while true {
            var total = 0
            var failed = false
            for slot in slots {
                guard let key = slot.key else { continue }
                var out = response.responses[slot.topic].partitions[slot.partition]
                out.records = ByteBuffer()
                let room = responseMax - total
                guard slot.maxBytes > 0, room > 0 || total == 0 else {
                    // No room for data, but the bounds are still owed.
                    if let bounds = try? await storage.bounds(key) {
                        out.highWatermark = bounds.highWatermark
                        out.lastStableOffset = bounds.highWatermark
                        out.logStartOffset = bounds.logStart
                    }
                    response.responses[slot.topic].partitions[slot.partition] = out
                    continue
                }
                do {
                    let read = try await storage.read(key, offset: slot.offset, maxBytes: min(slot.maxBytes, max(room, 1)))
                    out.errorCode = .none
                    out.highWatermark = read.highWatermark
                    out.lastStableOffset = read.highWatermark
                    out.logStartOffset = read.logStartOffset
                    out.abortedTransactions = isolation == IsolationLevel.readCommitted ? [] : nil
                    total += read.batches.readableBytes
                    out.records = read.batches
                } catch {
                    out.errorCode = KafkaErrorCode(error)
                    if let bounds = try? await storage.bounds(key) {
                        out.highWatermark = bounds.highWatermark
                        out.logStartOffset = bounds.logStart
                        out.lastStableOffset = bounds.highWatermark
                    }
                    failed = true
                }
                response.responses[slot.topic].partitions[slot.partition] = out
            }
            if failed || total >= Int(request.minBytes) || ContinuousClock.now >= deadline || slots.isEmpty { break }
            // Park on every partition until one has more, then read again.
            var positions: [PartitionKey: Int64] = [:]
            for slot in slots { if let key = slot.key { positions[key] = slot.offset } }
            do {
                try await storage.waitForData(positions, until: deadline)
            } catch let error as StorageError where error.code == .shuttingDown {
                // The agent is stopping: answer with what was read; the client goes elsewhere.
                break
            }
            if ContinuousClock.now >= deadline {
                // Woken by the deadline: one last read picks up whatever arrived meanwhile.
                continue
            }
        }
        return response
    }

    private func setAll(_ response: inout FetchResponse, _ code: KafkaErrorCode) {
        for t in response.responses.indices {
            for p in response.responses[t].partitions.indices {
                response.responses[t].partitions[p].errorCode = code
            }
        }
    }

    /// KIP-320: a client's idea of the leader epoch against ours.
    static func checkEpoch(_ claimed: Int32, against current: Int) -> KafkaErrorCode? {
        guard claimed >= 0 else { return nil }
        if Int(claimed) < current { return .fencedLeaderEpoch }
        if Int(claimed) > current { return .unknownLeaderEpoch }
        return nil
    }
}
