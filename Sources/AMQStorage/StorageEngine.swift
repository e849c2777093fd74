import AMQControlPlane
import AMQKafkaProtocol
import AMQObjectStore
import DequeModule
import Foundation
import Logging
import NIOCore

/// Settings of one agent's storage engine.
package struct StorageConfiguration: Sendable {
    package var nodeID: Int
    /// A WAL buffer is sealed at this size…
    package var maxBufferBytes = 8 << 20
    /// …or this long after its first append (a topic's `linger.ms` may lower it).
    package var linger: Duration = .milliseconds(250)
    /// Appended but not yet uploaded bytes; appends wait beyond it.
    package var maxUnuploadedBytes = 256 << 20
    /// How long an append waits for room before it fails.
    package var appendTimeout: Duration = .seconds(30)
    package var maxConcurrentUploads = 4
    /// Recently committed batches kept in memory for tail reads.
    package var logCacheBytes = 64 << 20
    /// Object ranges read from the store.
    package var blockCacheBytes = 256 << 20
    /// Backoff between retries of a failed upload or commit.
    package var retryBase: Duration = .milliseconds(100)
    package var retryCap: Duration = .seconds(5)

    package init(nodeID: Int) {
        self.nodeID = nodeID
    }
}

/// What an append got: the offsets given to its batches, and the log's end after it.
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

/// One agent's storage: a WAL buffer shared by every partition it leads, sealed and uploaded as
/// one object, then committed to the partition index; reads from a log cache, else by range GETs
/// through a block cache. See docs/storage-format.md and DESIGN §3.
///
/// `run()` must be running (it uploads, commits and keeps time); the rest are its API.
package actor StorageEngine {
    package let configuration: StorageConfiguration
    let store: any ObjectStore
    let index: any PartitionIndex
    let logger: Logger
    package let blockCache: BlockCache

    // Partitions.
    private var partitions: [PartitionKey: PartitionState] = [:]

    // The write path.
    private var open: OpenBuffer?
    private var sequence = 0
    private var inFlightUploads = 0
    private var unuploadedBytes = 0
    private let sealed: AsyncStream<SealedBuffer>
    private let sealedSink: AsyncStream<SealedBuffer>.Continuation
    private var commitTurn = 1
    private var commitWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var skippedTurns: Set<Int> = []

    // Time: each deadline (a buffer's linger, a wait for data or room) gets a sleeping task in
    // `run()`'s group that calls `tick()` when it passes.
    private let deadlines: AsyncStream<ContinuousClock.Instant>
    private let deadlineSink: AsyncStream<ContinuousClock.Instant>.Continuation
    private var lingerScheduled: (opened: ContinuousClock.Instant, at: ContinuousClock.Instant)?
    private var dataWaiters: [Int: DataWaiter] = [:]
    private var roomWaiters: [Int: RoomWaiter] = [:]
    private var nextWaiterID = 0
    private var stopped = false

    // Running totals for the agent's metrics.
    private var objectsUploaded = 0
    private var rangesCommitted = 0
    private var retries = 0

    // The log cache: committed batches, newest last.
    private var logCache: Deque<CachedRange> = []
    private var logCacheBytes = 0

    package init(configuration: StorageConfiguration, store: any ObjectStore, index: any PartitionIndex, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.index = index
        self.logger = logger
        self.blockCache = BlockCache(capacity: configuration.blockCacheBytes)
        (sealed, sealedSink) = AsyncStream.makeStream(of: SealedBuffer.self)
        (deadlines, deadlineSink) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
    }

    // MARK: Running

    /// Uploads and commits sealed buffers and keeps time, until cancelled. On the way out the
    /// open buffer is flushed (best effort) and everyone still waiting is told.
    package func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withDiscardingTaskGroup { timers in
                    for await deadline in self.deadlines {
                        timers.addTask {
                            try? await Task.sleep(until: deadline)
                            await self.tick()
                        }
                    }
                }
            }
            // Uploads finish even after shutdown() (what was appended is flushed); only then do
            // the timers stop.
            await withDiscardingTaskGroup { uploads in
                for await buffer in sealed {
                    uploads.addTask { await self.uploadAndCommit(buffer) }
                }
            }
            group.cancelAll()
        }
    }

    /// Stops taking appends; `run()` returns once what is in flight is done.
    package func shutdown() {
        stopped = true
        if let buffer = open, !buffer.entries.isEmpty { seal() }
        sealedSink.finish()
        deadlineSink.finish()
        for (_, waiter) in roomWaiters { waiter.continuation.resume(throwing: StorageError(.shuttingDown, "the agent is shutting down")) }
        roomWaiters.removeAll()
        for (_, waiter) in dataWaiters { waiter.continuation.resume() }
        dataWaiters.removeAll()
    }

    // MARK: Leadership

    /// Starts leading `partition` under `epoch`, continuing from its committed end. Linger may be
    /// lowered per topic (`linger.ms`).
    package func becomeLeader(_ partition: PartitionKey, epoch: Int, linger: Duration? = nil) async throws {
        if case .leader(let current) = partitions[partition]?.role, current == epoch {
            partitions[partition]?.linger = linger
            return
        }
        let log = try await loadLog(partition, from: -1)
        var state = PartitionState(log: log)
        // A newer view may have arrived while we loaded; keep whichever knows more.
        if let existing = partitions[partition], existing.committedEnd > state.committedEnd {
            state.committedEnd = existing.committedEnd
            state.segments = existing.segments
        }
        state.role = .follower
        partitions[partition] = state
        // Idempotent producers' recent batches, from the log's tail, before any append is taken
        // (appends meanwhile are refused as not-leader and retried by the client).
        let producers = await recentProducers(partition, segments: state.segments, logStart: state.logStart, end: state.committedEnd)
        guard var current = partitions[partition] else { return }
        if case .leader(let held) = current.role, held >= epoch { return }
        current.role = .leader(epoch: epoch)
        current.linger = linger
        current.nextOffset = current.committedEnd
        current.producers = producers
        partitions[partition] = current
        logger.info("Leading partition", metadata: ["amq.partition": "\(partition)", "amq.epoch": "\(epoch)", "amq.offset": "\(current.nextOffset)"])
    }

    /// How much of a partition's tail is read to rebuild its producer state on a leadership move.
    static let producerStateSegments = 32
    static let producerStateBytes = 32 << 20

    private func recentProducers(_ partition: PartitionKey, segments: [Segment], logStart: Int64, end: Int64) async -> ProducerStateTable {
        var table = ProducerStateTable()
        // A first page of the index that is full may not reach the tail: page to the end.
        let known = segments.count >= 1000 ? ((try? await allSegments(partition)) ?? segments) : segments
        guard let first = known.suffix(Self.producerStateSegments).first else { return table }
        var offset = max(first.baseOffset, logStart)
        var budget = Self.producerStateBytes
        while offset < end, budget > 0 {
            do {
                let result = try await read(partition, offset: offset, maxBytes: min(budget, 4 << 20))
                guard result.batches.readableBytes > 0, let last = Self.lastOffset(in: result.batches) else { break }
                table.rebuild(from: result.batches)
                budget -= result.batches.readableBytes
                offset = last + 1
            } catch {
                // Best effort: without it a retried batch from before the move may be appended twice.
                logger.warning("Could not rebuild producer state", metadata: ["amq.partition": "\(partition)", "amq.error": "\(error)"])
                break
            }
        }
        return table
    }

    static func lastOffset(in batches: ByteBuffer) -> Int64? {
        var index = batches.readerIndex
        var last: Int64?
        while let header = RecordBatchHeader(batches, at: index), index + header.totalSize <= batches.writerIndex {
            last = header.lastOffset
            index += header.totalSize
        }
        return last
    }

    /// Stops leading `partition`: appends not yet committed fail with not-leader.
    package func resign(_ partition: PartitionKey, leader: Int? = nil) {
        guard var state = partitions[partition], case .leader = state.role else { return }
        state.role = .follower
        state.producers = ProducerStateTable()
        partitions[partition] = state
        if let entry = open?.entries.removeValue(forKey: partition) {
            open?.bytes -= entry.bytes.readableBytes
            unuploadedBytes -= entry.bytes.readableBytes
            for waiter in entry.waiters {
                waiter.complete(.failure(StorageError(.notLeader, "no longer the leader of \(partition)", leader: leader)))
            }
            resumeRoomWaiters()
        }
    }

    /// The partitions this engine leads now.
    package var ledPartitions: [PartitionKey] {
        partitions.compactMap { key, state in
            if case .leader = state.role { return key }
            return nil
        }
    }

    package func isLeader(_ partition: PartitionKey) -> Bool {
        if case .leader = partitions[partition]?.role { return true }
        return false
    }

    // MARK: Appends

    /// Appends whole record batches (magic 2, validated here) to `partition`, which this agent
    /// must lead; returns once they are durable in the object store and committed to the index.
    ///
    /// Nonisolated, like ``stage(_:batches:)``: the wait for the commit happens off the actor, so
    /// thousands of appends completing at once do not queue for it just to return.
    nonisolated package func append(_ partition: PartitionKey, batches: ByteBuffer) async throws -> AppendResult {
        try await stage(partition, batches: batches).result()
    }

    /// Takes the batches and gives them offsets now; the returned append completes once they are
    /// committed. Calls are served in the order they reach the engine, so a caller that stages in
    /// request order (the Kafka connection's reader) keeps its order even when it awaits the
    /// results concurrently. Idempotent batches (producer id ≥ 0) are checked against the
    /// partition's producer state: a retry gets its original offsets, a gap is refused.
    ///
    /// The batches are validated (headers, CRC) before the engine's actor is entered: all appends
    /// pass through it one at a time, so it does only what needs its state.
    nonisolated package func stage(_ partition: PartitionKey, batches: ByteBuffer) async throws -> PendingAppend {
        let headers: [RecordBatchHeader]
        do {
            headers = try RecordBatchHeader.validateBatches(batches)
        } catch {
            throw StorageError(.corrupt, "\(error) (partition \(partition))", underlying: error)
        }
        guard !headers.isEmpty else { throw StorageError(.corrupt, "empty produce to \(partition)") }
        return try await stage(partition, batches: batches, headers: headers)
    }

    private func stage(_ partition: PartitionKey, batches: ByteBuffer, headers: [RecordBatchHeader]) async throws -> PendingAppend {
        let idempotent = headers.contains { $0.producerID >= 0 && $0.baseSequence >= 0 }
        try requireLeader(partition)
        if idempotent, let duplicate = try checkSequences(partition, headers) { return duplicate }
        if unuploadedBytes + batches.readableBytes > configuration.maxUnuploadedBytes, unuploadedBytes > 0 {
            try await waitForRoom(batches.readableBytes)
            // Leadership may have moved, or another append of the same producer landed, meanwhile.
            try requireLeader(partition)
            if idempotent, let duplicate = try checkSequences(partition, headers) { return duplicate }
        }
        // One lookup; the state is changed in place through its index (a copy would also copy
        // the producer table on every idempotent append).
        guard let slot = partitions.index(forKey: partition), case .leader(let epoch) = partitions.values[slot].role else {
            throw notLeader(partition)
        }
        var bytes = batches
        var index = bytes.readerIndex
        let base = partitions.values[slot].nextOffset
        var next = base
        var maxTimestamp = Int64.min
        for header in headers {
            RecordBatchHeader.setBaseOffset(next, in: &bytes, at: index)
            RecordBatchHeader.setPartitionLeaderEpoch(Int32(truncatingIfNeeded: epoch), in: &bytes, at: index)
            next += Int64(header.lastOffsetDelta) + 1
            maxTimestamp = max(maxTimestamp, header.maxTimestamp)
            index += header.totalSize
        }
        let pending = PendingAppend(offsets: AppendResult(baseOffset: base, lastOffset: next - 1))
        partitions.values[slot].nextOffset = next
        if idempotent {
            var offset = base
            for header in headers {
                defer { offset += Int64(header.lastOffsetDelta) + 1 }
                guard header.producerID >= 0, header.baseSequence >= 0 else { continue }
                partitions.values[slot].producers.record(
                    producerID: header.producerID, epoch: header.producerEpoch,
                    .init(
                        firstSequence: header.baseSequence,
                        lastSequence: ProducerStateTable.last(first: header.baseSequence, count: header.lastOffsetDelta + 1),
                        baseOffset: offset, lastOffset: offset + Int64(header.lastOffsetDelta), pending: pending
                    )
                )
            }
        }
        let linger = partitions.values[slot].linger ?? configuration.linger
        if open == nil { open = OpenBuffer(opened: .now) }
        open!.add(partition, epoch: epoch, base: base, end: next, maxTimestamp: maxTimestamp, bytes: &bytes, waiter: pending)
        open!.linger = min(open!.linger ?? linger, linger)
        unuploadedBytes += batches.readableBytes
        sealIfDue()
        return pending
    }

    /// Checks idempotent batches against the producer state: nil to append them, a settled or
    /// in-flight append for a retried batch, or the refusal. Changes nothing: `stage` records.
    private func checkSequences(_ partition: PartitionKey, _ headers: [RecordBatchHeader]) throws(StorageError) -> PendingAppend? {
        guard var scratch = partitions[partition]?.producers else { return nil }
        for (position, header) in headers.enumerated() where header.producerID >= 0 && header.baseSequence >= 0 {
            let last = ProducerStateTable.last(first: header.baseSequence, count: header.lastOffsetDelta + 1)
            switch scratch.check(producerID: header.producerID, epoch: header.producerEpoch, firstSequence: header.baseSequence, lastSequence: last) {
            case .success(.append):
                // Later batches of the request are checked as if this one were in. Only then is
                // the scratch table written, so the usual one-batch produce copies nothing.
                guard position < headers.count - 1 else { break }
                scratch.record(
                    producerID: header.producerID, epoch: header.producerEpoch,
                    .init(firstSequence: header.baseSequence, lastSequence: last, baseOffset: -1, lastOffset: -1, pending: nil)
                )
            case .success(.duplicate(let original)):
                guard headers.count == 1, position == 0 else {
                    throw StorageError(.outOfOrderSequence, "a produce to \(partition) mixes a retried batch with new ones")
                }
                let offsets = AppendResult(baseOffset: original.baseOffset, lastOffset: original.lastOffset)
                return original.pending ?? PendingAppend(offsets: offsets, outcome: .success(offsets))
            case .failure(.outOfOrderSequence(let expected, let received)):
                throw StorageError(
                    .outOfOrderSequence,
                    "producer \(header.producerID) sent sequence \(received) to \(partition) where \(expected) was expected"
                )
            case .failure(.staleEpoch(let current, let received)):
                throw StorageError(
                    .invalidProducerEpoch, "producer \(header.producerID) epoch \(received) is older than its current epoch \(current)"
                )
            }
        }
        return nil
    }

    private func requireLeader(_ partition: PartitionKey) throws(StorageError) {
        guard !stopped else { throw StorageError(.shuttingDown, "the agent is shutting down") }
        guard case .leader = partitions[partition]?.role else { throw notLeader(partition) }
    }

    private func notLeader(_ partition: PartitionKey) -> StorageError {
        StorageError(.notLeader, "this agent (node \(configuration.nodeID)) does not lead \(partition)", leader: partitions[partition]?.leaderHint)
    }

    /// Seals the open buffer when it is full, when its linger has passed, or — with zero linger —
    /// as soon as no upload is in flight (group commit).
    private func sealIfDue() {
        guard let buffer = open, !buffer.entries.isEmpty else { return }
        let full = buffer.bytes >= configuration.maxBufferBytes
        let linger = buffer.linger ?? configuration.linger
        let lingered = linger > .zero && ContinuousClock.now >= buffer.opened + linger
        let idle = linger == .zero && inFlightUploads == 0
        if (full || lingered || idle) && inFlightUploads < configuration.maxConcurrentUploads {
            seal()
        } else if linger > .zero {
            let due = buffer.opened + linger
            if lingerScheduled?.opened != buffer.opened || lingerScheduled!.at > due {
                lingerScheduled = (buffer.opened, due)
                deadlineSink.yield(due)
            }
        }
    }

    /// Hands the open buffer to `run()`. Sequence numbers are given here, not at opening, so a
    /// buffer emptied by a resignation never leaves a hole in the commit order.
    private func seal() {
        guard var buffer = open else { return }
        open = nil
        sequence += 1
        buffer.sequence = sequence
        inFlightUploads += 1
        sealedSink.yield(SealedBuffer(buffer: buffer))
    }

    // MARK: Upload and commit

    private func uploadAndCommit(_ sealed: SealedBuffer) async {
        let buffer = sealed.buffer
        let inputs = buffer.order.compactMap { key in
            buffer.entries[key].map {
                StreamObject.Input(partition: key, baseOffset: $0.base, endOffset: $0.end, maxTimestamp: $0.maxTimestamp, batches: $0.bytes)
            }
        }
        let (object, entries) = StreamObject.encode(nodeID: configuration.nodeID, inputs)
        let key = StreamObject.walKey(nodeID: configuration.nodeID, sequence: buffer.sequence)
        do {
            try await retrying("upload \(key)") {
            do {
                try await self.store.put(key, body: object, ifAbsent: true)
            } catch let error as ObjectStoreError where error.code == .alreadyExists {
                // Our key is unique to this buffer: an earlier try landed and only its answer was lost.
            }
            }
        } catch {
            abandon(buffer, uploaded: false)
            skipCommitTurn(buffer.sequence)
            return
        }
        let uploadedAt = Date()
        uploaded(buffer)

        await awaitCommitTurn(buffer.sequence)
        defer { finishCommitTurn(buffer.sequence) }
        let ranges = entries.map { entry in
            CommitRequest.Range(
                partition: entry.partition, leaderEpoch: buffer.entries[entry.partition]!.epoch,
                segment: Segment(
                    baseOffset: entry.baseOffset, endOffset: entry.endOffset, objectKey: key, position: entry.position,
                    length: entry.length, maxTimestamp: entry.maxTimestamp
                )
            )
        }
        let request = CommitRequest(nodeID: configuration.nodeID, objectKey: key, objectSize: object.readableBytes, uploadedAt: uploadedAt, ranges: ranges)
        var outcomes: [CommitResponse.Outcome]
        do {
            outcomes = try await retrying("commit \(key)") { try await self.index.commit(request).outcomes }
        } catch {
            abandon(buffer, uploaded: true)
            return
        }
        // A retried commit whose first try landed sees its own ranges as out of order: check.
        for (position, outcome) in outcomes.enumerated() {
            guard case .outOfOrder(let next) = outcome, next >= ranges[position].segment.endOffset else { continue }
            let log = try? await index.partitionLog(ranges[position].partition, from: ranges[position].segment.baseOffset, limit: 1)
            if log?.segments.first?.objectKey == key, log?.segments.first?.baseOffset == ranges[position].segment.baseOffset {
                outcomes[position] = .accepted
            }
        }
        for (range, outcome) in zip(ranges, outcomes) {
            let entry = buffer.entries[range.partition]!
            switch outcome {
            case .accepted:
                rangesCommitted += 1
                committed(range.partition, segment: range.segment, data: entry.bytes)
                for waiter in entry.waiters { waiter.complete(.success(waiter.offsets)) }
            case .fenced(let leader, let epoch):
                logger.notice(
                    "Commit fenced: leadership moved",
                    metadata: ["amq.partition": "\(range.partition)", "amq.leader": "\(leader)", "amq.epoch": "\(epoch)"]
                )
                resign(range.partition, leader: leader)
                partitions[range.partition]?.leaderHint = leader
                fail(entry, StorageError(.notLeader, "leadership of \(range.partition) moved to node \(leader) (epoch \(epoch))", leader: leader))
            case .outOfOrder(let next):
                logger.error("Commit out of order", metadata: ["amq.partition": "\(range.partition)", "amq.offset": "\(next)"])
                resign(range.partition)
                fail(entry, StorageError(.notLeader, "the log of \(range.partition) moved on to offset \(next) without us"))
            case .unknownPartition:
                resign(range.partition)
                fail(entry, StorageError(.unknownPartition, "partition \(range.partition) no longer exists"))
            case .expired:
                // The commit came too late to be safe from garbage collection: not acknowledged,
                // so the producer retries; the offsets assigned after it are void too.
                resign(range.partition)
                fail(entry, StorageError(.unavailable, "the commit of \(range.partition) came too late; retry the produce"))
            }
        }
    }

    /// Cancelled mid-way (the agent is being torn down): nobody gets an answer but an error. An
    /// uploaded, uncommitted object is left for garbage collection.
    private func abandon(_ buffer: OpenBuffer, uploaded: Bool) {
        if !uploaded {
            inFlightUploads -= 1
            unuploadedBytes -= buffer.bytes
        }
        for entry in buffer.entries.values {
            fail(entry, StorageError(.shuttingDown, "the agent stopped before the data was committed"))
        }
    }

    private func fail(_ entry: PendingRange, _ error: StorageError) {
        for waiter in entry.waiters { waiter.complete(.failure(error)) }
    }

    private func uploaded(_ buffer: OpenBuffer) {
        objectsUploaded += 1
        inFlightUploads -= 1
        unuploadedBytes -= buffer.bytes
        resumeRoomWaiters()
        sealIfDue()
    }

    private func awaitCommitTurn(_ sequence: Int) async {
        guard commitTurn != sequence else { return }
        await withCheckedContinuation { commitWaiters[sequence] = $0 }
    }

    private func finishCommitTurn(_ sequence: Int) {
        commitTurn = sequence + 1
        while skippedTurns.remove(commitTurn) != nil { commitTurn += 1 }
        commitWaiters.removeValue(forKey: commitTurn)?.resume()
    }

    /// A buffer abandoned before its commit gives up its turn, now or when it comes.
    private func skipCommitTurn(_ sequence: Int) {
        if commitTurn == sequence { finishCommitTurn(sequence) } else { skippedTurns.insert(sequence) }
    }

    /// Retries `body` with jittered exponential backoff until it succeeds: data already handed to
    /// us is never dropped, and appends simply wait (bounded by `maxUnuploadedBytes`).
    private func retrying<T: Sendable>(_ what: String, _ body: @Sendable () async throws -> T) async throws(CancellationError) -> T {
        var delay = configuration.retryBase
        var attempt = 0
        while true {
            if Task.isCancelled { throw CancellationError() }
            do {
                let value = try await body()
                if attempt > 0 { logger.notice("Recovered", metadata: ["amq.operation": "\(what)", "amq.attempts": "\(attempt + 1)"]) }
                return value
            } catch {
                attempt += 1
                retries += 1
                logger.warning("Retrying", metadata: ["amq.operation": "\(what)", "amq.attempt": "\(attempt)", "amq.error": "\(error)"])
                let jittered = delay * Double.random(in: 0.5...1.0)
                try? await Task.sleep(for: jittered)
                delay = min(delay * 2, configuration.retryCap)
            }
        }
    }

    private func committed(_ partition: PartitionKey, segment: Segment, data: ByteBuffer) {
        if var state = partitions[partition] {
            if segment.baseOffset == state.committedEnd {
                state.committedEnd = segment.endOffset
                state.segments.append(segment)
            }
            partitions[partition] = state
        }
        logCache.append(CachedRange(partition: partition, base: segment.baseOffset, end: segment.endOffset, bytes: data))
        logCacheBytes += data.readableBytes
        while logCacheBytes > configuration.logCacheBytes, let oldest = logCache.popFirst() {
            logCacheBytes -= oldest.bytes.readableBytes
        }
        for (id, waiter) in dataWaiters where waiter.positions[partition].map({ segment.endOffset > $0 }) == true {
            dataWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    // MARK: Reads

    /// The partition's committed bounds, loading them from the index if this agent has not yet.
    package func bounds(_ partition: PartitionKey) async throws -> (logStart: Int64, highWatermark: Int64) {
        let state = try await partitionState(partition)
        return (state.logStart, state.committedEnd)
    }

    /// Whole batches holding `offset` onwards, up to about `maxBytes` (at least one batch, so a
    /// batch larger than `maxBytes` still gets through, as Kafka does).
    package func read(_ partition: PartitionKey, offset: Int64, maxBytes: Int) async throws -> ReadResult {
        var state = try await partitionState(partition)
        if offset > state.committedEnd || offset < state.logStart {
            // Our view may be stale (another agent leads): refresh once before refusing.
            state = try await refresh(partition)
        }
        guard offset >= state.logStart, offset <= state.committedEnd else {
            throw StorageError(
                .offsetOutOfRange, "offset \(offset) is outside \(partition)'s log [\(state.logStart), \(state.committedEnd))"
            )
        }
        var result = ReadResult(batches: ByteBuffer(), highWatermark: state.committedEnd, logStartOffset: state.logStart)
        guard offset < state.committedEnd else { return result }

        // The log cache holds the tail most readers want: take contiguous cached ranges.
        var cached = ByteBuffer()
        var next = offset
        while cached.readableBytes < maxBytes,
            let range = logCache.last(where: { $0.partition == partition && $0.base <= next && next < $0.end })
        {
            let room = maxBytes - cached.readableBytes
            var (part, complete) = Self.batches(from: range.bytes, offset: next, maxBytes: cached.readableBytes == 0 ? maxBytes : room)
            guard part.readableBytes > 0, cached.readableBytes == 0 || part.readableBytes <= room else { break }
            cached.writeBuffer(&part)
            // A range cut short by maxBytes ends the read: the next range would leave a gap.
            guard complete else { break }
            next = range.end
        }
        if cached.readableBytes > 0 {
            result.batches = cached
            return result
        }

        // Else the segments from the one holding `offset`, as many as fit in `maxBytes`, fetched
        // at once: a partition of many small objects reads almost as fast as one of a few.
        var segments = state.segments(from: offset, upTo: maxBytes, limit: Self.maxSegmentsPerRead)
        if segments.isEmpty {
            state = try await refresh(partition, from: offset)
            segments = state.segments(from: offset, upTo: maxBytes, limit: Self.maxSegmentsPerRead)
        }
        guard !segments.isEmpty else {
            throw StorageError(.offsetOutOfRange, "no segment of \(partition) holds offset \(offset)")
        }
        let store = self.store
        let blockCache = self.blockCache
        let parts: [ByteBuffer]
        do {
            parts = try await withThrowingTaskGroup(of: (Int, ByteBuffer).self) { group in
                for (position, segment) in segments.enumerated() {
                    group.addTask {
                        let key = BlockCache.Key(object: segment.objectKey, position: segment.position, length: segment.length)
                        let bytes = try await blockCache.get(key) {
                            try await store.get(segment.objectKey, range: segment.position..<(segment.position + segment.length))
                        }
                        return (position, bytes)
                    }
                }
                var parts = [ByteBuffer](repeating: ByteBuffer(), count: segments.count)
                for try await (position, bytes) in group { parts[position] = bytes }
                return parts
            }
        } catch let error as ObjectStoreError where error.code == .notFound {
            // Compaction or retention replaced an object under us; the index knows where it went.
            _ = try await refresh(partition, from: offset)
            throw StorageError(.unavailable, "an object of \(partition) is gone; retry the read", underlying: error)
        }
        var batches = ByteBuffer()
        for part in parts {
            let remaining = maxBytes - batches.readableBytes
            var (slice, complete) = Self.batches(from: part, offset: offset, maxBytes: batches.readableBytes == 0 ? maxBytes : remaining)
            if batches.readableBytes > 0, slice.readableBytes > remaining { break }
            batches.writeBuffer(&slice)
            // A segment cut short by maxBytes ends the read: the next one would leave a gap.
            if !complete || batches.readableBytes >= maxBytes { break }
        }
        result.batches = batches
        return result
    }

    /// Moves the log start of `partition` up to `offset` (Kafka's DeleteRecords); returns the new
    /// log start. The index records it; objects wholly below it go with retention's next pass.
    package func deleteRecords(_ partition: PartitionKey, before offset: Int64) async throws -> Int64 {
        let logStart = try await index.deleteRecords(partition, before: offset)
        if var state = partitions[partition] {
            state.logStart = max(state.logStart, logStart)
            state.segments.removeAll { $0.endOffset <= state.logStart }
            partitions[partition] = state
        }
        return logStart
    }

    /// The leader epoch this agent leads `partition` under, if it does.
    package func leaderEpoch(_ partition: PartitionKey) -> Int? {
        if case .leader(let epoch) = partitions[partition]?.role { return epoch }
        return nil
    }

    /// The first offset whose batch reaches `timestamp` (ListOffsets by time): the segment index
    /// narrows it to one object range, then batch headers (and, for uncompressed batches, the
    /// records) pin it down. Nil when every record is older. A compressed batch answers with its
    /// first offset: its records' own timestamps would need decompressing (docs/decisions.md).
    package func offset(forTimestamp timestamp: Int64, in partition: PartitionKey) async throws -> (offset: Int64, timestamp: Int64)? {
        let segments = try await allSegments(partition)
        for segment in segments where segment.maxTimestamp >= timestamp {
            let result = try await read(partition, offset: segment.baseOffset, maxBytes: segment.length)
            var index = result.batches.readerIndex
            while let header = RecordBatchHeader(result.batches, at: index), index + header.totalSize <= result.batches.writerIndex {
                defer { index += header.totalSize }
                guard header.maxTimestamp >= timestamp, header.lastOffset >= result.logStartOffset else { continue }
                if header.compression == 0, let records = try? RecordBatchBuilder.records(in: result.batches, at: index) {
                    if let hit = records.first(where: { $0.record.timestamp >= timestamp && $0.offset >= result.logStartOffset }) {
                        return (hit.offset, hit.record.timestamp)
                    }
                    continue
                }
                return (max(header.baseOffset, result.logStartOffset), header.maxTimestamp)
            }
        }
        return nil
    }

    /// The offset holding the partition's largest timestamp (ListOffsets v7 MAX_TIMESTAMP).
    package func offsetOfMaxTimestamp(in partition: PartitionKey) async throws -> (offset: Int64, timestamp: Int64)? {
        let segments = try await allSegments(partition)
        guard let best = segments.max(by: { $0.maxTimestamp < $1.maxTimestamp }) else { return nil }
        let result = try await read(partition, offset: best.baseOffset, maxBytes: best.length)
        var index = result.batches.readerIndex
        var found: (Int64, Int64)?
        while let header = RecordBatchHeader(result.batches, at: index), index + header.totalSize <= result.batches.writerIndex {
            defer { index += header.totalSize }
            guard found == nil || header.maxTimestamp > found!.1 else { continue }
            var offset = header.lastOffset
            if header.compression == 0, let records = try? RecordBatchBuilder.records(in: result.batches, at: index),
                let top = records.max(by: { $0.record.timestamp < $1.record.timestamp })
            {
                offset = top.offset
            }
            found = (offset, header.maxTimestamp)
        }
        return found
    }

    /// Every committed segment of `partition`, from the index (timestamp lookups need them all).
    private func allSegments(_ partition: PartitionKey) async throws -> [Segment] {
        var segments: [Segment] = []
        var from: Int64 = 0
        while true {
            let log = try await loadLog(partition, from: from)
            let fresh = log.segments.filter { $0.baseOffset >= from }
            segments += fresh
            guard let last = fresh.last, last.endOffset < log.nextOffset, fresh.count >= 1000 else { break }
            from = last.endOffset
        }
        return segments.filter { $0.endOffset > (partitions[partition]?.logStart ?? 0) }
    }

    /// At most this many segments (so range GETs) serve one read.
    static let maxSegmentsPerRead = 16

    /// Waits until `partition` has data past `offset` or `deadline` passes (Fetch's long-poll).
    package func waitForData(_ partition: PartitionKey, after offset: Int64, until deadline: ContinuousClock.Instant) async throws {
        try await waitForData([partition: offset], until: deadline)
    }

    /// Waits until any of `positions` has data past its offset, or `deadline` passes: one Fetch
    /// parks on all its partitions at once.
    package func waitForData(_ positions: [PartitionKey: Int64], until deadline: ContinuousClock.Instant) async throws {
        for (partition, offset) in positions {
            let state = try await partitionState(partition)
            if state.committedEnd > offset { return }
        }
        guard !positions.isEmpty, deadline > .now, !stopped else { return }
        nextWaiterID += 1
        let id = nextWaiterID
        await withCheckedContinuation { continuation in
            dataWaiters[id] = DataWaiter(positions: positions, deadline: deadline, continuation: continuation)
            deadlineSink.yield(deadline)
        }
    }

    private func partitionState(_ partition: PartitionKey) async throws -> PartitionState {
        if let state = partitions[partition] { return state }
        return try await refresh(partition)
    }

    /// Re-reads the partition's bounds (and segments from `from`) from the index.
    @discardableResult
    private func refresh(_ partition: PartitionKey, from: Int64 = -1) async throws -> PartitionState {
        let log = try await loadLog(partition, from: from)
        var state = partitions[partition] ?? PartitionState(log: log)
        if log.nextOffset > state.committedEnd { state.committedEnd = log.nextOffset }
        state.logStart = log.logStartOffset
        state.leaderHint = log.leader
        state.merge(log.segments)
        if case .follower = state.role { state.nextOffset = state.committedEnd }
        partitions[partition] = state
        return state
    }

    private func loadLog(_ partition: PartitionKey, from: Int64) async throws -> PartitionLogState {
        do {
            // The bounds, and the first page of segments from `from` (tail readers page on).
            return try await index.partitionLog(partition, from: max(from, 0), limit: 1000)
        } catch let error as ControlPlaneError where error.code == .topicNotFound {
            throw StorageError(.unknownPartition, "partition \(partition) is not known to the index", underlying: error)
        }
    }

    /// The batches of `bytes` from the one holding `offset`, up to `maxBytes` (at least one), and
    /// whether they run to the end of `bytes`.
    static func batches(from bytes: ByteBuffer, offset: Int64, maxBytes: Int) -> (batches: ByteBuffer, complete: Bool) {
        var index = bytes.readerIndex
        var start: Int?
        var end = index
        while let header = RecordBatchHeader(bytes, at: index), index + header.totalSize <= bytes.writerIndex {
            if start == nil {
                if header.lastOffset >= offset { start = index } else {
                    index += header.totalSize
                    end = index
                    continue
                }
            }
            if let start, index > start, index + header.totalSize - start > maxBytes { break }
            index += header.totalSize
            end = index
        }
        guard let start else { return (ByteBuffer(), true) }
        return (bytes.getSlice(at: start, length: end - start) ?? ByteBuffer(), end == bytes.writerIndex)
    }

    // MARK: Waiting for room

    private func waitForRoom(_ size: Int) async throws {
        nextWaiterID += 1
        let id = nextWaiterID
        let deadline = ContinuousClock.now + configuration.appendTimeout
        try await withCheckedThrowingContinuation { continuation in
            roomWaiters[id] = RoomWaiter(size: size, deadline: deadline, continuation: continuation)
            deadlineSink.yield(deadline)
        }
    }

    private func resumeRoomWaiters() {
        for (id, waiter) in roomWaiters.sorted(by: { $0.key < $1.key })
        where unuploadedBytes + waiter.size <= configuration.maxUnuploadedBytes || unuploadedBytes == 0 {
            roomWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    // MARK: Time

    /// A deadline passed: expire waits that are due and seal a buffer whose linger is over.
    private func tick() {
        guard !stopped else { return }
        expireWaiters()
        sealIfDue()
    }

    private func expireWaiters() {
        let now = ContinuousClock.now
        for (id, waiter) in dataWaiters where waiter.deadline <= now {
            dataWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
        for (id, waiter) in roomWaiters where waiter.deadline <= now {
            roomWaiters.removeValue(forKey: id)
            waiter.continuation.resume(
                throwing: StorageError(
                    .backpressureTimeout,
                    "\(unuploadedBytes) bytes are waiting for the object store (limit \(configuration.maxUnuploadedBytes)); it is slow or down"
                )
            )
        }
    }

    // MARK: Introspection (metrics, tests)

    package var pendingUploadBytes: Int { unuploadedBytes }

    /// What the agent's `/metrics` shows about its storage.
    package struct Statistics: Sendable, Equatable {
        package var pendingUploadBytes: Int
        package var uploadsInFlight: Int
        package var cachedLogBytes: Int
        package var ledPartitions: Int
        package var objectsUploaded: Int
        package var rangesCommitted: Int
        package var retries: Int
    }

    package var statistics: Statistics {
        Statistics(
            pendingUploadBytes: unuploadedBytes, uploadsInFlight: inFlightUploads, cachedLogBytes: logCacheBytes,
            ledPartitions: ledPartitions.count, objectsUploaded: objectsUploaded, rangesCommitted: rangesCommitted, retries: retries
        )
    }
    package var cachedLogBytes: Int { logCacheBytes }
}

// MARK: - State

private struct PartitionState {
    enum Role { case leader(epoch: Int), follower }
    var role: Role = .follower
    var leaderHint: Int?
    var linger: Duration?
    /// The next offset to assign (leader only; includes appends not committed yet).
    var nextOffset: Int64
    /// The high watermark: everything below is committed.
    var committedEnd: Int64
    var logStart: Int64
    /// Known segments, ascending and contiguous where known.
    var segments: [Segment]
    /// Idempotent producers' recent batches (leader only).
    var producers = ProducerStateTable()

    init(log: PartitionLogState) {
        leaderHint = log.leader
        nextOffset = log.nextOffset
        committedEnd = log.nextOffset
        logStart = log.logStartOffset
        segments = log.segments
    }

    /// The segment holding `offset` and those after it, while their sizes fit in `maxBytes`
    /// (the first always counts), at most `limit`, stopping at a gap in what is known.
    func segments(from offset: Int64, upTo maxBytes: Int, limit: Int) -> [Segment] {
        guard let first = segment(containing: offset), var index = segments.firstIndex(of: first) else { return [] }
        var result = [first]
        var bytes = first.length
        while result.count < limit, index + 1 < segments.count {
            let next = segments[index + 1]
            guard next.baseOffset == result.last!.endOffset, bytes + next.length <= maxBytes else { break }
            result.append(next)
            bytes += next.length
            index += 1
        }
        return result
    }

    func segment(containing offset: Int64) -> Segment? {
        var low = 0
        var high = segments.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let segment = segments[middle]
            if offset < segment.baseOffset { high = middle - 1 } else if offset >= segment.endOffset { low = middle + 1 } else { return segment }
        }
        return nil
    }

    /// Takes the index's segments as the truth for the offsets they cover (compaction may have
    /// replaced several of ours by one) and drops what retention removed.
    mutating func merge(_ fetched: [Segment]) {
        if let first = fetched.first, let last = fetched.last {
            segments.removeAll { $0.endOffset > first.baseOffset && $0.baseOffset < last.endOffset }
            segments += fetched
            segments.sort { $0.baseOffset < $1.baseOffset }
        }
        segments.removeAll { $0.endOffset <= logStart }
    }
}

private struct PendingRange {
    var epoch: Int
    var base: Int64
    var end: Int64
    var maxTimestamp: Int64
    var bytes: ByteBuffer
    var waiters: [PendingAppend] = []
}

private struct OpenBuffer {
    /// Given when sealed; commits go in this order.
    var sequence = 0
    var opened: ContinuousClock.Instant
    var linger: Duration?
    var entries: [PartitionKey: PendingRange] = [:]
    var order: [PartitionKey] = []
    var bytes = 0

    init(opened: ContinuousClock.Instant) {
        self.opened = opened
    }

    mutating func add(_ partition: PartitionKey, epoch: Int, base: Int64, end: Int64, maxTimestamp: Int64, bytes data: inout ByteBuffer, waiter: PendingAppend) {
        bytes += data.readableBytes
        if let slot = entries.index(forKey: partition) {
            entries.values[slot].end = end
            entries.values[slot].maxTimestamp = max(entries.values[slot].maxTimestamp, maxTimestamp)
            entries.values[slot].bytes.writeBuffer(&data)
            entries.values[slot].waiters.append(waiter)
        } else {
            order.append(partition)
            entries[partition] = PendingRange(epoch: epoch, base: base, end: end, maxTimestamp: maxTimestamp, bytes: data, waiters: [waiter])
        }
    }
}

private struct SealedBuffer: Sendable {
    var buffer: OpenBuffer
}


private struct CachedRange {
    var partition: PartitionKey
    var base: Int64
    var end: Int64
    var bytes: ByteBuffer
}

private struct DataWaiter {
    var positions: [PartitionKey: Int64]
    var deadline: ContinuousClock.Instant
    var continuation: CheckedContinuation<Void, Never>
}

private struct RoomWaiter {
    var size: Int
    var deadline: ContinuousClock.Instant
    var continuation: CheckedContinuation<Void, any Error>
}
