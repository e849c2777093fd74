import Foundation

/// One partition of one topic, by topic id (stable: a topic deleted and created again under the
/// same name is another topic, and its data must never mix with the old one's).
package struct PartitionKey: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    package var topicID: String
    package var partition: Int

    package init(topicID: String, partition: Int) {
        self.topicID = topicID
        self.partition = partition
    }

    package var description: String { "\(topicID)-\(partition)" }

    package static func < (lhs: PartitionKey, rhs: PartitionKey) -> Bool {
        (lhs.topicID, lhs.partition) < (rhs.topicID, rhs.partition)
    }
}

/// Where a committed offset range lives: `length` bytes at `position` of object `objectKey`,
/// holding whole record batches with offsets `baseOffset..<endOffset`.
package struct Segment: Codable, Sendable, Hashable {
    package var baseOffset: Int64
    package var endOffset: Int64
    package var objectKey: String
    package var position: Int
    package var length: Int
    package var maxTimestamp: Int64

    package init(baseOffset: Int64, endOffset: Int64, objectKey: String, position: Int, length: Int, maxTimestamp: Int64) {
        self.baseOffset = baseOffset
        self.endOffset = endOffset
        self.objectKey = objectKey
        self.position = position
        self.length = length
        self.maxTimestamp = maxTimestamp
    }
}

/// An agent's request to make the ranges of one uploaded object part of their partitions' logs.
package struct CommitRequest: Codable, Sendable, Hashable {
    package struct Range: Codable, Sendable, Hashable {
        package var partition: PartitionKey
        /// The epoch under which the agent leads the partition; a stale one is fenced.
        package var leaderEpoch: Int
        package var segment: Segment

        package init(partition: PartitionKey, leaderEpoch: Int, segment: Segment) {
            self.partition = partition
            self.leaderEpoch = leaderEpoch
            self.segment = segment
        }
    }

    /// An object written by another agent (a router object a proxy uploaded) that some ranges
    /// point into: the leader commits pointers to it instead of writing the bytes again.
    package struct ObjectReference: Codable, Sendable, Hashable {
        package var key: String
        package var size: Int

        package init(key: String, size: Int) {
            self.key = key
            self.size = size
        }
    }

    /// The same for every try of one commit: the index answers a retry with what it answered the
    /// first try that landed, so an answer lost on the way never turns a commit into a failure.
    package var commitID: String
    package var nodeID: Int
    /// The agent's own WAL object; empty when every range points into `routerObjects`.
    package var objectKey: String
    package var objectSize: Int
    package var ranges: [Range]
    package var routerObjects: [ObjectReference]

    package init(
        commitID: String = UUID().uuidString, nodeID: Int, objectKey: String, objectSize: Int, ranges: [Range],
        routerObjects: [ObjectReference] = []
    ) {
        self.commitID = commitID
        self.nodeID = nodeID
        self.objectKey = objectKey
        self.objectSize = objectSize
        self.ranges = ranges
        self.routerObjects = routerObjects
    }

    private enum CodingKeys: String, CodingKey {
        case commitID, nodeID, objectKey, objectSize, ranges, routerObjects
    }

    /// `routerObjects` may be absent (a request from an agent that predates zone routing).
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        commitID = try container.decodeIfPresent(String.self, forKey: .commitID) ?? UUID().uuidString
        nodeID = try container.decode(Int.self, forKey: .nodeID)
        objectKey = try container.decode(String.self, forKey: .objectKey)
        objectSize = try container.decode(Int.self, forKey: .objectSize)
        ranges = try container.decode([Range].self, forKey: .ranges)
        routerObjects = try container.decodeIfPresent([ObjectReference].self, forKey: .routerObjects) ?? []
    }

    /// This request in parts of at most `maxRanges` ranges, in order, each naming the router
    /// objects its ranges point into and carrying an id of its own derived from this one's.
    package func split(maxRanges: Int) -> [CommitRequest] {
        guard ranges.count > maxRanges else { return [self] }
        return stride(from: 0, to: ranges.count, by: maxRanges).map { start in
            let part = Array(ranges[start..<min(start + maxRanges, ranges.count)])
            let keys = Set(part.map(\.segment.objectKey))
            return CommitRequest(
                commitID: "\(commitID)/\(start / maxRanges)", nodeID: nodeID, objectKey: objectKey, objectSize: objectSize,
                ranges: part, routerObjects: routerObjects.filter { keys.contains($0.key) }
            )
        }
    }

    /// The size of the object `key` names, if the request names it.
    package func size(of key: String) -> Int? {
        if key == objectKey, !objectKey.isEmpty { return objectSize }
        return routerObjects.first { $0.key == key }?.size
    }

    /// How old an object's upload intent may be when a commit names it (half the
    /// garbage-collection grace period), by the index's clock.
    package static let maxCommitDelay: TimeInterval = 300
}

/// What became of each range of a commit, in request order.
package struct CommitResponse: Codable, Sendable, Hashable {
    package enum Outcome: Codable, Sendable, Hashable {
        /// Now part of the log; the partition's next offset is the range's end.
        case accepted
        /// The node no longer leads the partition under that epoch.
        case fenced(leader: Int, leaderEpoch: Int)
        /// The range does not start at the partition's next offset (a gap or an overlap).
        case outOfOrder(nextOffset: Int64)
        /// The topic or partition is gone.
        case unknownPartition
        /// The object is too old to commit: garbage collection may already have deleted it.
        case expired
    }

    package var outcomes: [Outcome]

    package init(outcomes: [Outcome]) {
        self.outcomes = outcomes
    }
}

/// A partition's log as the index holds it: its bounds, its current leadership, and the segments
/// covering `from` onwards.
package struct PartitionLogState: Codable, Sendable, Hashable {
    package var partition: PartitionKey
    package var leader: Int
    package var leaderEpoch: Int
    package var logStartOffset: Int64
    package var nextOffset: Int64
    package var segments: [Segment]

    package init(partition: PartitionKey, leader: Int, leaderEpoch: Int, logStartOffset: Int64, nextOffset: Int64, segments: [Segment]) {
        self.partition = partition
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.logStartOffset = logStartOffset
        self.nextOffset = nextOffset
        self.segments = segments
    }
}
