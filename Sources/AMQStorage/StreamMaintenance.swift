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
                    if ObjectKeys.isRouterObject(segment.objectKey) { StoredBatches.assignOffsets(&bytes, from: segment.baseOffset) }
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
            // Named, and its intent recorded, before it is written, as every object is.
            let kind = UploadKind.compacted(partition, baseOffset: first.baseOffset, endOffset: last.endOffset)
            guard let key = try await index.reserveUploads(kind, nodeID: 0, count: 1).first else { continue }
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

    /// Deletes objects that are unreferenced past the grace period, and objects uploaded but never
    /// committed once their upload intent is older than it. Nothing is listed: an object this
    /// cluster's index neither refers to nor recorded an intent for (another cluster's, or one
    /// newer than a restored database) is never touched (issue 11, findings 2 and 3).
    package func collectGarbage(now: Date = Date()) async throws -> (unreferenced: Int, uncommitted: Int) {
        let due = try await index.objectsDueForDeletion(now: now, grace: configuration.grace)
        if !due.isEmpty {
            try await objects.delete(due)
            try await index.forgetObjects(due)
        }
        // The intents are gone before the objects: a commit naming one from now on is refused.
        let uncommitted = try await index.expireUploads(now: now, grace: configuration.grace)
        if !uncommitted.isEmpty { try await objects.delete(uncommitted) }
        return (due.count, uncommitted.count)
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
