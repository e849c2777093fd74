/// The fencing rule of the partition index, one place for every index: a range is accepted only
/// from the partition's current leader under its current epoch, and only when it starts exactly at
/// the partition's next offset. So a committed log never has a gap, an overlap or a duplicate,
/// whatever two would-be leaders do.
package enum CommitRules {
    /// The index's view of one partition when a range arrives.
    package struct PartitionView: Sendable, Hashable {
        package var leader: Int
        package var leaderEpoch: Int
        package var nextOffset: Int64

        package init(leader: Int, leaderEpoch: Int, nextOffset: Int64) {
            self.leader = leader
            self.leaderEpoch = leaderEpoch
            self.nextOffset = nextOffset
        }
    }

    /// What becomes of `range`, committed by `nodeID`, given the partition as the index holds it
    /// (nil: no such partition). On `.accepted` the partition's next offset becomes the range's end.
    package static func outcome(of range: CommitRequest.Range, from nodeID: Int, partition: PartitionView?) -> CommitResponse.Outcome {
        guard let partition else { return .unknownPartition }
        if partition.leader != nodeID || partition.leaderEpoch != range.leaderEpoch {
            return .fenced(leader: partition.leader, leaderEpoch: partition.leaderEpoch)
        }
        if partition.nextOffset != range.segment.baseOffset { return .outOfOrder(nextOffset: partition.nextOffset) }
        return .accepted
    }

    /// The first range of `request` that is not well formed: empty, or not inside an object the
    /// request names.
    package static func malformedRange(in request: CommitRequest) -> CommitRequest.Range? {
        request.ranges.first { range in
            let segment = range.segment
            guard let size = request.size(of: segment.objectKey) else { return true }
            return !(segment.endOffset > segment.baseOffset && segment.baseOffset >= 0 && segment.position >= 0 && segment.length > 0
                && segment.position + segment.length <= size)
        }
    }
}
