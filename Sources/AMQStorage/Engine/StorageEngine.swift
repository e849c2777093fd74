import AMQKafkaProtocol
import AMQObjectStore
import AMQStreamIndex
import Foundation
import Logging
import NIOCore
import Synchronization

/// One agent's storage: a WAL buffer shared by every partition it leads, sealed and uploaded as
/// one object, then committed to the partition index; reads from a log cache, else by range GETs
/// through a block cache. See docs/storage-format.md and docs/architecture.md.
///
/// The decisions of the write path live in ``WritePathStateMachine``; this actor owns one, feeds
/// it events with the time they happen and carries out its actions (uploads, commits, timers,
/// answers). Reads, timestamp lookups and waiting are in the other files of this folder.
///
/// `run()` must be running (it uploads, commits and keeps time); the rest are its API.
package actor StorageEngine {
    nonisolated package let configuration: StorageConfiguration
    let store: any ObjectStore
    let index: any PartitionIndex
    /// Keys for WAL objects, their intents recorded with the index before each upload.
    let uploadKeys: UploadKeys
    let logger: Logger
    package let blockCache: BlockCache

    /// Behind a lock rather than the actor: the usual append is staged by its caller, in place,
    /// without a hop onto the actor (``stage(_:batches:)``). Everything else runs on the actor.
    let writePath: Mutex<WritePathStateMachine>
    /// What is known of each partition's committed log (led or only read).
    var logs: [PartitionKey: PartitionLogView] = [:]
    var logCache: LogCache
    /// The budget the WAL and the caches were last sized by (nil: the configuration's sizes).
    package private(set) var memoryBudget: MemoryBudget?

    /// Uploads and commits for `run()` to carry out.
    private let work: AsyncStream<Work>
    private let workSink: AsyncStream<Work>.Continuation
    // Time: each deadline (a buffer's linger, a wait for data or room) gets a sleeping task in
    // `run()`'s group that calls `tick()` when it passes.
    private let deadlines: AsyncStream<ContinuousClock.Instant>
    let deadlineSink: AsyncStream<ContinuousClock.Instant>.Continuation
    var dataWaiters: [Int: DataWaiter] = [:]
    var roomWaiters: [Int: RoomWaiter] = [:]
    var nextWaiterID = 0
    private var retries = 0

    private enum Work: Sendable {
        /// By sequence: the upload reads the buffer from the write path, so that a task does not
        /// keep the appended copies alive after the object is encoded.
        case upload(Int)
        case commit(WritePathStateMachine.CommitPlan)
    }

    package init(configuration: StorageConfiguration, store: any ObjectStore, index: any PartitionIndex, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.index = index
        self.uploadKeys = UploadKeys(index: index, kind: .wal, nodeID: configuration.nodeID)
        self.logger = logger
        self.blockCache = BlockCache(capacity: configuration.blockCacheBytes)
        self.writePath = Mutex(WritePathStateMachine(nodeID: configuration.nodeID, configuration: configuration.writePath))
        self.logCache = LogCache(capacity: configuration.logCacheBytes)
        (work, workSink) = AsyncStream.makeStream(of: Work.self)
        (deadlines, deadlineSink) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
    }

    // MARK: Running

    /// Uploads and commits sealed buffers and keeps time, until cancelled or shut down. After
    /// ``shutdown()`` what was appended is still uploaded and committed; then it returns.
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
            await withDiscardingTaskGroup { tasks in
                for await item in work {
                    switch item {
                    case .upload(let sequence): tasks.addTask { await self.upload(sequence) }
                    case .commit(let plan): tasks.addTask { await self.commit(plan) }
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Stops taking appends; `run()` returns once what is in flight is done.
    package func shutdown() {
        execute(writePath.withLock { $0.shutdown() })
        for (_, waiter) in roomWaiters { waiter.continuation.resume(throwing: StorageError(.shuttingDown, "the agent is shutting down")) }
        roomWaiters.removeAll()
        for (_, waiter) in dataWaiters { waiter.continuation.resume(throwing: StorageError(.shuttingDown, "the agent is shutting down")) }
        dataWaiters.removeAll()
        finishIfDrained()
    }

    /// After ``shutdown()``, when draining takes too long (the controller or the store gone):
    /// every append not yet committed fails, unacknowledged, and `run()` may end; the caller
    /// cancels the uploads and commits still retrying.
    package func abandon() {
        execute(writePath.withLock { $0.abandon() })
    }

    /// Once stopped and nothing is left to upload or commit, `run()` may end.
    private func finishIfDrained() {
        guard writePath.withLock({ $0.stopped && $0.isDrained }) else { return }
        workSink.finish()
        deadlineSink.finish()
    }

    // MARK: Leadership

    /// The cluster's PUT budget for early seals (`wal.max.puts.per.second`); see ``SealPolicy``.
    package func setPutBudget(_ perSecond: Int?) {
        execute(
            writePath.withLock { machine in
                machine.setPutBudget(perSecond)
                return machine.tick(now: .now)
            })
    }

    /// The agent's memory budget (`agent.memory.bytes`): the WAL's, the log cache's and the
    /// block cache's shares of it (the router's is the router writer's).
    package func setMemoryBudget(_ budget: MemoryBudget) async {
        guard budget != memoryBudget else { return }
        memoryBudget = budget
        execute(writePath.withLock { $0.setMemoryLimit(budget.walBytes) })
        logCache.resize(to: budget.logCacheBytes)
        await blockCache.resize(to: budget.blockCacheBytes)
        logger.info("Memory budget", metadata: ["amq.budget": "\(budget)"])
    }

    /// Starts leading `partition` under `epoch`, continuing from its committed end. Linger may be
    /// lowered per topic (`linger.ms`).
    package func becomeLeader(_ partition: PartitionKey, epoch: Int, linger: Duration? = nil) async throws {
        if let held = writePath.withLock({ $0.leaderEpoch(partition) }) {
            if held == epoch { return writePath.withLock { $0.setLinger(partition, linger) } }
            // An older epoch: its appends not yet sealed fail now, the sealed ones are fenced.
            execute(writePath.withLock { $0.resign(partition) })
        }
        let log = try await loadLog(partition, from: -1)
        var view = PartitionLogView(log: log)
        view.trim(to: configuration.maxKnownSegments)
        // A newer view may have arrived while we loaded; keep whichever knows more.
        if let existing = logs[partition], existing.committedEnd > view.committedEnd {
            view.committedEnd = existing.committedEnd
            view.segments = existing.segments
        }
        logs[partition] = view
        // Idempotent producers' recent batches, from the log's tail, before any append is taken
        // (appends meanwhile are refused as not-leader and retried by the client).
        let producers = await recentProducers(partition, segments: view.segments, logStart: view.logStart, end: view.committedEnd)
        guard let current = logs[partition] else { return }
        if let held = writePath.withLock({ $0.leaderEpoch(partition) }), held >= epoch { return }
        writePath.withLock { $0.lead(partition, epoch: epoch, nextOffset: current.committedEnd, producers: producers, linger: linger) }
        logger.info("Leading partition", metadata: ["amq.partition": "\(partition)", "amq.epoch": "\(epoch)", "amq.offset": "\(current.committedEnd)"])
    }

    /// Stops leading `partition`: appends not yet sealed fail with not-leader.
    package func resign(_ partition: PartitionKey, leader: Int? = nil) {
        execute(writePath.withLock { $0.resign(partition, leader: leader) })
    }

    /// The partitions this engine leads now.
    package var ledPartitions: [PartitionKey] { writePath.withLock { $0.ledPartitions } }

    package func isLeader(_ partition: PartitionKey) -> Bool { writePath.withLock { $0.leaderEpoch(partition) } != nil }

    /// The leader epoch this agent leads `partition` under, if it does.
    package func leaderEpoch(_ partition: PartitionKey) -> Int? { writePath.withLock { $0.leaderEpoch(partition) } }

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
    /// committed. Calls are served in the order they take the write path's lock, so a caller that
    /// stages in request order (the Kafka connection's reader) keeps its order even when it awaits
    /// the results concurrently. Idempotent batches (producer id ≥ 0) are checked against the
    /// partition's producer state: a retry gets its original offsets, a gap is refused.
    ///
    /// The batches are validated (headers, CRC) once, here, and the usual append is staged right
    /// away under the lock: no hop onto the actor, no suspension. Only an append that must wait
    /// for room, or is refused without a known leader, goes through the actor.
    nonisolated package func stage(_ partition: PartitionKey, batches: ByteBuffer) async throws -> PendingAppend {
        let headers: [RecordBatchHeader]
        do {
            headers = try RecordBatchHeader.validateBatches(batches)
        } catch {
            throw StorageError(.corrupt, "\(error) (partition \(partition))", underlying: error)
        }
        guard !headers.isEmpty else { throw StorageError(.corrupt, "empty produce to \(partition)") }
        if let pending = try await stageNow(partition, batches: batches, headers: headers, afterWaiting: false) { return pending }
        return try await stageWhenRoom(partition, batches: batches, headers: headers)
    }

    /// One try under the lock; nil when there is no room.
    nonisolated private func stageNow(_ partition: PartitionKey, batches: ByteBuffer, headers: [RecordBatchHeader], afterWaiting: Bool) async throws -> PendingAppend? {
        let staged: WritePathStateMachine.Staged
        do {
            staged = try writePath.withLock { (machine) throws(StorageError) in
                try machine.stage(partition, batches: batches, headers: headers, afterWaiting: afterWaiting, now: .now)
            }
        } catch {
            // The write path does not track who leads elsewhere; the read side knows.
            var error = error
            if error.code == .notLeader, error.leader == nil { error.leader = await leaderHint(partition) }
            throw error
        }
        switch staged {
        case .appended(let pending, let actions):
            await perform(actions)
            return pending
        case .duplicate(let original):
            return original
        case .needsRoom:
            return nil
        }
    }

    /// Waits for room (on the actor, where room is freed, so no wake-up is missed between the
    /// check and the wait), then stages: after a wait an append is taken whatever its size, so a
    /// large one is not overtaken forever by small ones.
    private func stageWhenRoom(_ partition: PartitionKey, batches: ByteBuffer, headers: [RecordBatchHeader]) async throws -> PendingAppend {
        if !writePath.withLock({ $0.hasRoom(for: batches.readableBytes) }) { try await waitForRoom(batches.readableBytes) }
        guard let pending = try await stageNow(partition, batches: batches, headers: headers, afterWaiting: true) else {
            throw StorageError(.unavailable, "no room for an append to \(partition)")
        }
        return pending
    }

    private func leaderHint(_ partition: PartitionKey) -> Int? { logs[partition]?.leaderHint }

    /// A stage's actions, off the actor: uploads, commits and wake-ups go straight to `run()`;
    /// anything else (a stage makes none today) is carried out on the actor.
    nonisolated private func perform(_ actions: [WritePathStateMachine.Action]) async {
        var rest: [WritePathStateMachine.Action] = []
        for action in actions {
            switch action {
            case .upload(let buffer): workSink.yield(.upload(buffer.sequence))
            case .commit(let plan): workSink.yield(.commit(plan))
            case .wakeUp(let instant): deadlineSink.yield(instant)
            default: rest.append(action)
            }
        }
        if !rest.isEmpty { await execute(rest) }
    }

    /// Takes batches a proxy uploaded into a router object, for a partition this agent leads: the
    /// pointer's batch headers are checked like a produce's (leadership, idempotent sequences), the
    /// batches get offsets, and the returned append completes once the pointer is committed to
    /// the index. Calls are served in arrival order, so a caller that stages a proxy's pointers in
    /// the order they came keeps each producer's order.
    package func stageRemote(
        _ partition: PartitionKey, at location: WritePathStateMachine.RemoteLocation, headers: [RecordBatchHeader]
    ) throws -> PendingAppend {
        switch Result(catching: { () throws(StorageError) in try writePath.withLock { (machine) throws(StorageError) in try machine.stageRemote(partition, at: location, headers: headers, now: .now) } }) {
        case .success(.appended(let pending, let actions)):
            execute(actions)
            return pending
        case .success(.duplicate(let original)):
            return original
        case .success(.needsRoom):
            // Pointers hold no bytes here; the write path never asks them to wait.
            throw StorageError(.unavailable, "no room for a pointer to \(partition)")
        case .failure(var error):
            if error.code == .notLeader, error.leader == nil { error.leader = logs[partition]?.leaderHint }
            throw error
        }
    }

    // MARK: Carrying out the write path's actions

    func execute(_ actions: [WritePathStateMachine.Action]) {
        for action in actions {
            switch action {
            case .upload(let buffer):
                workSink.yield(.upload(buffer.sequence))
            case .commit(let plan):
                workSink.yield(.commit(plan))
            case .wakeUp(let instant):
                deadlineSink.yield(instant)
            case .committed(let partition, let segment, let batches):
                logs[partition]?.append(segment, limit: configuration.maxKnownSegments)
                if let batches { logCache.add(partition, base: segment.baseOffset, end: segment.endOffset, batches: batches) }
                wakeDataWaiters(partition, end: segment.endOffset)
            case .succeed(let appends):
                for append in appends { append.complete(.success(append.offsets)) }
            case .fail(let appends, let error):
                for append in appends { append.complete(.failure(error)) }
            case .roomFreed:
                resumeRoomWaiters()
            case .leaderMoved(let partition, let leader):
                logs[partition]?.leaderHint = leader
            }
        }
        finishIfDrained()
    }

    // MARK: Upload and commit (the I/O the write path asks for)

    private func upload(_ sequence: Int) async {
        guard let (object, entries) = encode(sequence) else { return }
        let uploaded: WritePathStateMachine.UploadedObject
        do {
            uploaded = try await uploadKeys.upload(
                object, placements: entries.map { .init(position: $0.position, length: $0.length) }, to: store, configuration: configuration,
                logger: logger, onRetry: { await self.countRetry() }
            )
        } catch {
            execute(writePath.withLock { $0.uploadFailed(sequence) })
            return
        }
        execute(writePath.withLock { $0.uploaded(sequence, object: uploaded, now: .now) })
    }

    /// Buffer `sequence`'s WAL object; from now on its ranges are slices of it.
    private func encode(_ sequence: Int) -> (ByteBuffer, [StreamObject.Entry])? {
        guard let buffer = writePath.withLock({ $0.uploading(sequence) }) else { return nil }
        let inputs = buffer.localRanges.map {
            StreamObject.Input(partition: $0.partition, baseOffset: $0.baseOffset, endOffset: $0.endOffset, maxTimestamp: $0.maxTimestamp, chunks: $0.chunks)
        }
        let (object, entries) = StreamObject.encode(nodeID: configuration.nodeID, inputs)
        writePath.withLock { $0.encoded(sequence, stored: StreamObject.slices(of: object, entries)) }
        return (object, entries)
    }

    private func commit(_ plan: WritePathStateMachine.CommitPlan) async {
        let request = plan.request
        var outcomes: [CommitResponse.Outcome] = []
        do {
            // A buffer touching thousands of partitions would not fit one request body: it goes
            // in parts, in order, each range decided on its own as ever.
            for part in request.split(maxRanges: configuration.maxRangesPerCommit) {
                // The controller is near and a commit holds every later one: retry it sooner than
                // an upload; a commit the index refuses as such will not pass on a retry.
                outcomes += try await retrying(
                    "commit \(part.objectKey)", base: configuration.retryBase, cap: configuration.commitRetryCap, logger: logger,
                    onRetry: { await self.countRetry() }, isFinal: { ($0 as? StreamIndexError)?.code == .refused }
                ) { try await self.index.commit(part).outcomes }
            }
        } catch let error as StreamIndexError {
            execute(writePath.withLock { $0.commitRefused(plan.sequence, StorageError(.unavailable, error.message, underlying: error)) })
            return
        } catch {
            execute(writePath.withLock { $0.commitFailed(plan.sequence) })
            return
        }
        // A retry whose first try landed gets that try's answer: the index keys answers by commit id.
        for (range, outcome) in zip(request.ranges, outcomes) {
            switch outcome {
            case .accepted: break
            case .fenced(let leader, let epoch):
                logger.notice("Commit fenced: leadership moved", metadata: ["amq.partition": "\(range.partition)", "amq.leader": "\(leader)", "amq.epoch": "\(epoch)"])
            case .outOfOrder(let next):
                logger.error("Commit out of order", metadata: ["amq.partition": "\(range.partition)", "amq.offset": "\(next)"])
            case .unknownPartition, .expired:
                logger.warning("Commit refused", metadata: ["amq.partition": "\(range.partition)", "amq.outcome": "\(outcome)"])
            }
        }
        execute(writePath.withLock { $0.committed(plan.sequence, outcomes: outcomes) })
    }

    private func countRetry() {
        retries += 1
    }

    // MARK: Introspection (metrics, tests)

    package var pendingUploadBytes: Int { writePath.withLock { $0.unuploadedBytes } }

    /// What the agent's `/metrics` shows about its storage.
    package struct Statistics: Sendable, Equatable {
        package var pendingUploadBytes: Int
        /// Taken and not yet committed: what `maxUncommittedBytes` bounds.
        package var uncommittedBytes: Int
        package var uploadsInFlight: Int
        package var cachedLogBytes: Int
        package var ledPartitions: Int
        package var objectsUploaded: Int
        package var rangesCommitted: Int
        package var retries: Int
        /// Fetches (and replica polls) parked waiting for data.
        package var parkedReads: Int
        /// Segments held in memory, all partitions together (bounded per partition).
        package var knownSegments: Int
    }

    package var statistics: Statistics {
        let (logBytes, retries, parked, known) = (logCache.bytes, retries, dataWaiters.count, logs.values.reduce(0) { $0 + $1.segments.count })
        return writePath.withLock { machine in
            Statistics(
                pendingUploadBytes: machine.unuploadedBytes, uncommittedBytes: machine.uncommittedBytes, uploadsInFlight: machine.uploadsInFlight, cachedLogBytes: logBytes,
                ledPartitions: machine.ledPartitions.count, objectsUploaded: machine.objectsUploaded, rangesCommitted: machine.rangesCommitted,
                retries: retries, parkedReads: parked, knownSegments: known
            )
        }
    }

    package var cachedLogBytes: Int { logCache.bytes }
}
