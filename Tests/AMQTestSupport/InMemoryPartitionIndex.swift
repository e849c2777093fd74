import AMQStreamIndex
import Synchronization

/// A partition index in memory that decides commits with ``CommitRules``, as the controller's
/// does: storage tests run on it without SQLite or a controller. Upload intents never expire
/// here (the controller's own tests cover them).
package final class InMemoryPartitionIndex: PartitionIndex {
    private struct Partition {
        var view: CommitRules.PartitionView
        var logStart: Int64 = 0
        var segments: [Segment] = []
    }

    private let partitions: Mutex<[PartitionKey: Partition]>
    private let answers = Mutex<[String: CommitResponse]>([:])

    package init(_ partitions: [PartitionKey], leader: Int, leaderEpoch: Int = 1) {
        self.partitions = Mutex(
            Dictionary(uniqueKeysWithValues: partitions.map { ($0, Partition(view: .init(leader: leader, leaderEpoch: leaderEpoch, nextOffset: 0))) })
        )
    }

    /// Leadership of `partition` moves to `leader` under the next epoch; returns that epoch.
    @discardableResult
    package func moveLeader(_ partition: PartitionKey, to leader: Int) -> Int {
        partitions.withLock { partitions in
            partitions[partition]!.view.leader = leader
            partitions[partition]!.view.leaderEpoch += 1
            return partitions[partition]!.view.leaderEpoch
        }
    }

    package func commit(_ request: CommitRequest) async throws -> CommitResponse {
        if let answered = answers.withLock({ $0[request.commitID] }) { return answered }
        let response = partitions.withLock { partitions in
            CommitResponse(
                outcomes: request.ranges.map { range in
                    let outcome = CommitRules.outcome(of: range, from: request.nodeID, partition: partitions[range.partition]?.view)
                    if outcome == .accepted {
                        partitions[range.partition]!.view.nextOffset = range.segment.endOffset
                        partitions[range.partition]!.segments.append(range.segment)
                    }
                    return outcome
                }
            )
        }
        answers.withLock { $0[request.commitID] = response }
        return response
    }

    package func reserveUploads(_ kind: UploadKind, nodeID: Int, count: Int) async throws -> [String] {
        (0..<count).map { _ in ObjectKeys.make(kind, cluster: "memory", nodeID: nodeID) }
    }

    package func partitionLog(_ partition: PartitionKey, from: Int64, limit: Int) async throws -> PartitionLogState {
        try partitions.withLock { partitions in
            guard let state = partitions[partition] else { throw StreamIndexError(.unknownPartition, "no partition \(partition)") }
            return PartitionLogState(
                partition: partition, leader: state.view.leader, leaderEpoch: state.view.leaderEpoch, logStartOffset: state.logStart,
                nextOffset: state.view.nextOffset, segments: Array(state.segments.filter { $0.endOffset > from }.prefix(limit))
            )
        }
    }

    package func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        try partitions.withLock { partitions in
            guard var state = partitions[partition] else { throw StreamIndexError(.unknownPartition, "no partition \(partition)") }
            state.logStart = max(state.logStart, min(offset, state.view.nextOffset))
            state.segments.removeAll { $0.endOffset <= state.logStart }
            partitions[partition] = state
            return state.logStart
        }
    }
}
