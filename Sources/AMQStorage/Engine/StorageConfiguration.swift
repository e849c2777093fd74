import NIOCore

/// Settings of one agent's storage engine.
package struct StorageConfiguration: Sendable {
    package var nodeID: Int
    /// A WAL buffer is sealed at this size…
    package var maxBufferBytes = 8 << 20
    /// …or this long after its first append (a topic's `linger.ms` may lower it).
    package var linger: Duration = .milliseconds(250)
    /// Appended but not yet uploaded bytes; appends wait beyond it.
    package var maxUncommittedBytes = 256 << 20
    /// How long an append waits for room before it fails.
    package var appendTimeout: Duration = .seconds(30)
    package var maxConcurrentUploads = 4
    /// Early seals per second (``SealPolicy``): a buffer is uploaded as soon as nothing else is
    /// in flight and this budget allows; nil: it waits for its linger (or size).
    package var maxPutsPerSecond: Int?
    /// Segments of one partition known in memory (the newest); reads of older offsets page
    /// them from the index. About 200 bytes each.
    package var maxKnownSegments = 2_000
    /// Recently committed batches kept in memory for tail reads.
    package var logCacheBytes = 64 << 20
    /// Object ranges read from the store.
    package var blockCacheBytes = 256 << 20
    /// Backoff between retries of a failed upload or commit.
    package var retryBase: Duration = .milliseconds(100)
    package var retryCap: Duration = .seconds(5)
    /// Commits go to the controller, which comes back within seconds of a restart; produce must
    /// resume as soon as it does (docs/reliability.md).
    package var commitRetryCap: Duration = .seconds(1)
    /// Ranges per commit request: a range is about 250 bytes of JSON, so a thousand stay far
    /// below the control API's 1 MiB body limit.
    package var maxRangesPerCommit = 1_000
    /// How long a stopping agent keeps trying to upload and commit what it took before giving up
    /// on it (those appends fail, unacknowledged). With the traffic flush and the goodbye
    /// (2 s each at most) a stop ends inside `amq cluster stop`'s 10 s.
    package var drainTimeout: Duration = .seconds(4)

    package init(nodeID: Int) {
        self.nodeID = nodeID
    }

    /// The write path's part of it.
    var writePath: WritePathStateMachine.Configuration {
        .init(
            maxBufferBytes: maxBufferBytes, linger: linger, maxUncommittedBytes: maxUncommittedBytes, maxConcurrentUploads: maxConcurrentUploads,
            maxPutsPerSecond: maxPutsPerSecond
        )
    }
}

/// What an append got: the offsets given to its batches.
package struct AppendResult: Sendable, Hashable {
    package var baseOffset: Int64
    package var lastOffset: Int64

    package init(baseOffset: Int64, lastOffset: Int64) {
        self.baseOffset = baseOffset
        self.lastOffset = lastOffset
    }
}

/// What a read got: whole record batches starting at or before the asked offset, and the bounds.
package struct ReadResult: Sendable {
    package var batches: ByteBuffer
    package var highWatermark: Int64
    package var logStartOffset: Int64
}
