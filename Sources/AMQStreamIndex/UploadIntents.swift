import Foundation

/// What an object about to be uploaded is for; the index names its key.
package enum UploadKind: Codable, Sendable, Hashable {
    /// An agent's WAL object (ranges of the partitions it leads).
    case wal
    /// A proxy's router object (batches for partitions other agents lead).
    case router
    /// One partition's compacted range, written by the controller's maintenance.
    case compacted(PartitionKey, baseOffset: Int64, endOffset: Int64)
}

/// Object keys, one place for all. Every key names its cluster (`{cluster uid}` second), so a
/// cluster never deletes, or even looks at, another's objects (issue 11, finding 2):
///
/// - `wal/{uid}/n{node}/{millis}-{random}.amqs`
/// - `router/{uid}/n{node}/{millis}-{random}.amqs`
/// - `data/{uid}/{topic id}/{partition}/{base}-{end}-{random}.amqs`, offsets zero-padded to sort
package enum ObjectKeys {
    package static let walPrefix = "wal/"
    package static let routerPrefix = "router/"
    package static let compactedPrefix = "data/"

    /// A new key for `kind`, uploaded by `nodeID` (0: the controller), in cluster `uid`.
    package static func make(_ kind: UploadKind, cluster uid: String, nodeID: Int, now: Date = Date()) -> String {
        let unique = UUID().uuidString.prefix(8).lowercased()
        let millis = padded(Int64(now.timeIntervalSince1970 * 1000), 13)
        switch kind {
        case .wal: return "\(walPrefix)\(uid)/n\(nodeID)/\(millis)-\(unique).amqs"
        case .router: return "\(routerPrefix)\(uid)/n\(nodeID)/\(millis)-\(unique).amqs"
        case .compacted(let partition, let base, let end):
            return "\(compactedPrefix)\(uid)/\(partition.topicID)/\(partition.partition)/\(padded(base, 20))-\(padded(end, 20))-\(unique).amqs"
        }
    }

    /// Whether the object under `key` is a router object, whose batches carry no offsets yet.
    package static func isRouterObject(_ key: String) -> Bool { key.hasPrefix(routerPrefix) }

    /// Whether the object under `key` holds ranges of many partitions (a WAL or router object,
    /// at most a buffer's size) rather than one partition's compacted range.
    package static func isSharedObject(_ key: String) -> Bool { key.hasPrefix(walPrefix) || key.hasPrefix(routerPrefix) }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
