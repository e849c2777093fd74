import AMQStreamIndex
import AMQObjectStore
import Foundation
import Logging
import NIOCore

/// The background work on a cluster's streams, run by the controller: retention, compaction of
/// small WAL ranges into per-partition objects, and deletion of objects nothing refers to
/// (replaced, expired, or uploaded and never committed) after a grace period.
package struct StreamMaintenance: Sendable {
    package struct Configuration: Sendable {
        package var interval: Duration = .seconds(30)
        /// How long an unreferenced object survives: reads already under way finish, and an upload
        /// whose commit is still on its way is not deleted under it.
        package var grace: TimeInterval = 600
        /// Compaction merges runs of at least this many segments…
        package var compactMinSegments = 8
        /// …each smaller than this…
        package var compactSmallerThan = 1 << 20
        /// …into objects of at most this size.
        package var compactMaxBytes = 64 << 20

        package init() {}
    }

    package struct Report: Sendable, Equatable {
        package var retainedSegmentsDropped = 0
        package var compactedRuns = 0
        package var deletedObjects = 0
        package var deletedUncommitted = 0
    }

    package let index: any StreamCatalog
    package let objects: any ObjectStore
    package let configuration: Configuration
    let logger: Logger

    package init(index: any StreamCatalog, objects: any ObjectStore, configuration: Configuration = Configuration(), logger: Logger) {
        self.index = index
        self.objects = objects
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs a pass every `interval` until cancelled; a failed pass is logged and tried again.
    package func run() async {
        while !Task.isCancelled {
            do {
                let report = try await runOnce()
                if report != Report() { logger.info("Stream maintenance", metadata: report.metadata) }
            } catch {
                logger.warning("Stream maintenance failed; will retry", metadata: ["amq.error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.interval)
        }
    }

    /// One pass of everything.
    @discardableResult
    package func runOnce(now: Date = Date()) async throws -> Report {
        var report = Report()
        report.retainedSegmentsDropped = try await index.applyRetention(now: now)
        report.compactedRuns = try await compact()
        (report.deletedObjects, report.deletedUncommitted) = try await collectGarbage(now: now)
        return report
    }

    /// Merges small consecutive segments of each partition into one object per run.
    package func compact() async throws -> Int {
        let candidates = try await index.compactionCandidates(
            minSegments: configuration.compactMinSegments, smallerThan: configuration.compactSmallerThan, maxBytes: configuration.compactMaxBytes
        )
        var merged = 0
        for (partition, segments) in candidates {
            var batches = ByteBufferAllocator().buffer(capacity: segments.reduce(0) { $0 + $1.length })
            do {
                for segment in segments {
                    var bytes = try await objects.get(segment.objectKey, range: segment.position..<(segment.position + segment.length))
                    // Router objects hold batches as their producer sent them; a compacted object
                    // holds them with their offsets.
                    if StreamObject.isRouterObject(segment.objectKey) { StoredBatches.assignOffsets(&bytes, from: segment.baseOffset) }
                    batches.writeBuffer(&bytes)
                }
            } catch let error as ObjectStoreError where error.code == .notFound {
                continue  // retention or a concurrent pass moved on; the next pass sees the new index
            }
            let first = segments.first!
            let last = segments.last!
            let (object, entries) = StreamObject.encode(
                nodeID: 0,
                [.init(partition: partition, baseOffset: first.baseOffset, endOffset: last.endOffset, maxTimestamp: segments.map(\.maxTimestamp).max()!, batches: batches)]
            )
            let key = Self.compactedKey(partition, base: first.baseOffset, end: last.endOffset)
            try await objects.put(key, body: object, ifAbsent: true)
            let entry = entries[0]
            let swapped = try await index.replaceSegments(
                partition, replaced: segments.map(\.baseOffset),
                with: Segment(baseOffset: entry.baseOffset, endOffset: entry.endOffset, objectKey: key, position: entry.position, length: entry.length, maxTimestamp: entry.maxTimestamp),
                objectSize: object.readableBytes, nodeID: 0
            )
            if swapped {
                merged += 1
            } else {
                try await objects.delete([key])
            }
        }
        return merged
    }

    /// Deletes objects that are unreferenced past the grace period, and objects in the store the
    /// index never heard of once they are older than the grace period.
    package func collectGarbage(now: Date = Date()) async throws -> (unreferenced: Int, uncommitted: Int) {
        let due = try await index.objectsDueForDeletion(now: now, grace: configuration.grace)
        if !due.isEmpty {
            try await objects.delete(due)
            try await index.forgetObjects(due)
        }
        let known = try await index.committedObjectKeys()
        var strays: [String] = []
        for prefix in [StreamObject.walPrefix, StreamObject.routerPrefix, "data/"] {
            for object in try await objects.listAll(prefix: prefix) where !known.contains(object.key) {
                guard let modified = object.lastModified, now.timeIntervalSince(modified) > configuration.grace else { continue }
                strays.append(object.key)
            }
        }
        if !strays.isEmpty {
            // Checked again right before deleting: a commit may have landed since the listing.
            let current = try await index.committedObjectKeys()
            strays.removeAll { current.contains($0) }
            try await objects.delete(strays)
        }
        return (due.count, strays.count)
    }

    /// `data/{topic id}/{partition}/{base}-{end}-{random}.amqs`, offsets zero-padded to sort.
    static func compactedKey(_ partition: PartitionKey, base: Int64, end: Int64) -> String {
        func padded(_ value: Int64) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, 20 - text.count)) + text
        }
        return "data/\(partition.topicID)/\(partition.partition)/\(padded(base))-\(padded(end))-\(UUID().uuidString.prefix(8).lowercased()).amqs"
    }
}

extension StreamMaintenance.Report {
    var metadata: Logger.Metadata {
        [
            "amq.retention.dropped": "\(retainedSegmentsDropped)", "amq.compacted": "\(compactedRuns)",
            "amq.gc.unreferenced": "\(deletedObjects)", "amq.gc.uncommitted": "\(deletedUncommitted)",
        ]
    }
}
