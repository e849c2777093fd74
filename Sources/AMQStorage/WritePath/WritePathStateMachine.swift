import AMQKafkaProtocol
import AMQStreamIndex
import Foundation
import NIOCore

/// The write path of one agent's storage, as a pure state machine: which partitions it leads and
/// the next offset of each, idempotent producers' sequences, the one open WAL buffer, when it is
/// sealed, the bytes not yet uploaded, and the order in which uploaded buffers are committed and
/// what each range's outcome does. It does no I/O and reads no clock: the engine's actor
/// (``StorageEngine``) feeds it events with the time they happen, and carries out the actions it
/// returns (upload an object, commit it, wake a timer, answer producers). docs/storage-format.md
/// describes the objects; docs/architecture.md the engine around it.
package struct WritePathStateMachine: Sendable {
    package struct Configuration: Sendable {
        /// A buffer is sealed at this size…
        package var maxBufferBytes: Int
        /// …or this long after its first append (a partition's own linger may be lower).
        package var linger: Duration
        /// Appended but not yet committed bytes (uploaded ones included: while the controller is
        /// away they pile up there); appends wait beyond it.
        package var maxUncommittedBytes: Int
        package var maxConcurrentUploads: Int
        /// The PUT budget of early seals (``SealPolicy``); nil: a buffer waits for its linger.
        package var maxPutsPerSecond: Int?

        package init(
            maxBufferBytes: Int = 8 << 20, linger: Duration = .milliseconds(250), maxUncommittedBytes: Int = 256 << 20, maxConcurrentUploads: Int = 4,
            maxPutsPerSecond: Int? = nil
        ) {
            self.maxPutsPerSecond = maxPutsPerSecond
            self.maxBufferBytes = maxBufferBytes
            self.linger = linger
            self.maxUncommittedBytes = maxUncommittedBytes
            self.maxConcurrentUploads = maxConcurrentUploads
        }
    }

    /// What the engine must do next, in order.
    package enum Action: Sendable {
        /// Upload the buffer as one object, then report ``uploaded(_:object:now:)`` or
        /// ``uploadFailed(_:)``.
        case upload(SealedBuffer)
        /// Commit the object's ranges to the partition index, then report
        /// ``committed(_:outcomes:now:)`` or ``commitFailed(_:)``. One commit at a time, in seal order.
        case commit(CommitPlan)
        /// Call ``tick(now:)`` at this instant (a buffer's linger ends).
        case wakeUp(at: ContinuousClock.Instant)
        /// These ranges are now part of the partition's committed log (readers may see them). The
        /// batches, with their offsets, when this agent holds them (not for pointers into router objects).
        case committed(PartitionKey, Segment, ByteBuffer?)
        /// Answer these appends with success (each with its own offsets)…
        case succeed([PendingAppend])
        /// …or with this error.
        case fail([PendingAppend], StorageError)
        /// Bytes were freed: appends waiting for room may fit now.
        case roomFreed
        /// The index names another leader of the partition.
        case leaderMoved(PartitionKey, leader: Int)
    }

    /// A sealed buffer: what one commit will hold, and the local data of its one WAL object.
    package struct SealedBuffer: Sendable {
        package var sequence: Int
        package var ranges: [PendingRange]
        /// Bytes of local data (what the WAL object holds).
        package var bytes: Int

        /// The ranges whose batches this agent holds, in object order.
        package var localRanges: [PendingRange] { ranges.filter { $0.remote == nil } }
    }

    /// One partition's appended batches in a buffer, with the appends waiting on them: batches
    /// this agent holds, or (`remote`) a pointer into a router object another agent uploaded.
    package struct PendingRange: Sendable {
        package var partition: PartitionKey
        package var epoch: Int
        package var baseOffset: Int64
        package var endOffset: Int64
        package var maxTimestamp: Int64
        /// The batches as taken, one chunk per append (joining them would copy every byte once
        /// more); once the object is encoded, one slice of it.
        package var chunks: [ByteBuffer]
        package var waiters: [PendingAppend]
        package var remote: RemoteLocation?

        /// The batches in one buffer (a copy when there are several chunks).
        package var batches: ByteBuffer { ByteBuffer(joining: chunks) }
        package var byteCount: Int { chunks.reduce(0) { $0 + $1.readableBytes } }
    }

    /// Where batches a proxy uploaded sit: `length` bytes at `position` of router object `objectKey`.
    package struct RemoteLocation: Sendable, Hashable {
        package var objectKey: String
        package var objectSize: Int
        package var position: Int
        package var length: Int

        package init(objectKey: String, objectSize: Int, position: Int, length: Int) {
            self.objectKey = objectKey
            self.objectSize = objectSize
            self.position = position
            self.length = length
        }
    }

    /// Where an uploaded buffer's ranges landed in its object.
    package struct UploadedObject: Sendable, Hashable {
        package var key: String
        package var size: Int
        /// Per local range of the buffer (``SealedBuffer/localRanges``), in order: where it landed.
        package var placements: [Placement]

        package struct Placement: Sendable, Hashable {
            package var position: Int
            package var length: Int

            package init(position: Int, length: Int) {
                self.position = position
                self.length = length
            }
        }

        package init(key: String, size: Int, placements: [Placement]) {
            self.key = key
            self.size = size
            self.placements = placements
        }
    }

    /// A commit to make: the request, and the buffer it is for.
    package struct CommitPlan: Sendable {
        package var sequence: Int
        package var request: CommitRequest
    }

    /// What `stage` did with an append.
    package enum Staged: Sendable {
        /// Taken and given offsets; it completes when its buffer is committed.
        case appended(PendingAppend, [Action])
        /// A retry of a batch already taken: answer as the original is (or was) answered.
        case duplicate(PendingAppend)
        /// No room until uploads catch up: wait for ``Action/roomFreed``, then stage again with
        /// `afterWaiting: true`.
        case needsRoom
    }

    private struct Leadership: Sendable {
        var epoch: Int
        var nextOffset: Int64
        var producers: ProducerStateTable
        var linger: Duration?
    }

    private struct OpenBuffer: Sendable {
        var opened: ContinuousClock.Instant
        var linger: Duration
        /// In offset order per partition.
        var pieces: [PendingRange] = []
        /// The piece a partition's next local append joins: its last piece, if that one is local.
        var openLocal: [PartitionKey: Int] = [:]
        /// Local bytes.
        var bytes = 0

        var hasLocalData: Bool { bytes > 0 }
    }

    private enum Stage: Sendable {
        case uploading(SealedBuffer)
        /// Uploaded, or nothing to upload (every range a pointer): waiting for its commit turn.
        case uploaded(SealedBuffer, UploadedObject?)
        case committing(SealedBuffer, UploadedObject?)
        /// Abandoned before its commit: its turn is skipped.
        case abandoned
    }

    package private(set) var configuration: Configuration
    package let nodeID: Int
    private var leaders: [PartitionKey: Leadership] = [:]
    private var open: OpenBuffer?
    private var sequence = 0
    /// Sealed buffers by sequence, until committed or abandoned.
    private var sealed: [Int: Stage] = [:]
    /// The sequence whose commit comes next.
    private var commitTurn = 1
    private var sealPolicy: SealPolicy
    package private(set) var stopped = false

    package private(set) var unuploadedBytes = 0
    /// Bytes taken and not yet committed or failed: what bounds memory.
    package private(set) var uncommittedBytes = 0
    package private(set) var uploadsInFlight = 0
    package private(set) var objectsUploaded = 0
    package private(set) var rangesCommitted = 0

    package init(nodeID: Int, configuration: Configuration) {
        self.nodeID = nodeID
        self.configuration = configuration
        sealPolicy = SealPolicy(
            maxBufferBytes: configuration.maxBufferBytes, maxConcurrentUploads: configuration.maxConcurrentUploads, maxPutsPerSecond: configuration.maxPutsPerSecond
        )
    }

    // MARK: Leadership

    /// The partitions led now.
    package var ledPartitions: [PartitionKey] { Array(leaders.keys) }

    package func leaderEpoch(_ partition: PartitionKey) -> Int? { leaders[partition]?.epoch }

    /// Leads `partition` under `epoch` from `nextOffset` (its committed end), with idempotent
    /// producers' state rebuilt from the log. A newer epoch already held wins.
    package mutating func lead(_ partition: PartitionKey, epoch: Int, nextOffset: Int64, producers: ProducerStateTable, linger: Duration?) {
        if let held = leaders[partition], held.epoch >= epoch { return }
        leaders[partition] = Leadership(epoch: epoch, nextOffset: nextOffset, producers: producers, linger: linger)
    }

    /// The agent's memory budget changed (``MemoryBudget``): at most `bytes` wait here. Appends
    /// waiting for room may fit now; what is already taken stays, and a lower limit only makes
    /// the next appends wait.
    package mutating func setMemoryLimit(_ bytes: Int) -> [Action] {
        guard bytes != configuration.maxUncommittedBytes else { return [] }
        configuration.maxUncommittedBytes = bytes
        return [.roomFreed]
    }

    /// The cluster's `wal.max.puts.per.second` changed (the same value again changes nothing).
    package mutating func setPutBudget(_ perSecond: Int?) {
        guard perSecond != sealPolicy.maxPutsPerSecond else { return }
        sealPolicy.setBudget(perSecond)
    }

    /// A topic's linger changed while leading.
    package mutating func setLinger(_ partition: PartitionKey, _ linger: Duration?) {
        leaders[partition]?.linger = linger
    }

    /// Stops leading `partition`: its appends still in the open buffer fail with not-leader.
    /// Those already sealed meet the index's fencing.
    package mutating func resign(_ partition: PartitionKey, leader: Int? = nil) -> [Action] {
        guard leaders.removeValue(forKey: partition) != nil else { return [] }
        guard var buffer = open, buffer.pieces.contains(where: { $0.partition == partition }) else { return [] }
        let error = StorageError(.notLeader, "no longer the leader of \(partition)", leader: leader)
        let dropped = buffer.pieces.filter { $0.partition == partition }
        buffer.pieces.removeAll { $0.partition == partition }
        buffer.openLocal = [:]
        for (index, piece) in buffer.pieces.enumerated() where piece.remote == nil { buffer.openLocal[piece.partition] = index }
        let freed = dropped.reduce(0) { $0 + $1.byteCount }
        buffer.bytes -= freed
        unuploadedBytes -= freed
        uncommittedBytes -= freed
        if buffer.pieces.isEmpty {
            open = nil
            sealPolicy.discard()
        } else {
            open = buffer
        }
        return dropped.map { .fail($0.waiters, error) } + [.roomFreed]
    }

    // MARK: Appends

    /// Takes whole validated batches (`headers` are theirs, in order) for `partition`: checks
    /// leadership and idempotent sequences, gives them offsets, and adds them to the open buffer.
    package mutating func stage(
        _ partition: PartitionKey, batches: ByteBuffer, headers: [RecordBatchHeader], afterWaiting: Bool = false, now: ContinuousClock.Instant
    ) throws(StorageError) -> Staged {
        guard !stopped else { throw StorageError(.shuttingDown, "the agent is shutting down") }
        guard let slot = leaders.index(forKey: partition) else { throw notLeader(partition) }
        let idempotent = headers.contains { $0.producerID >= 0 && $0.baseSequence >= 0 }
        if idempotent, let duplicate = try checkSequences(partition, leaders.values[slot].producers, headers) { return .duplicate(duplicate) }
        if !afterWaiting, !hasRoom(for: batches.readableBytes) { return .needsRoom }

        // The state is changed in place through its index: a copy would copy the producer table.
        let epoch = leaders.values[slot].epoch
        var bytes = batches
        var position = bytes.readerIndex
        let base = leaders.values[slot].nextOffset
        var next = base
        var maxTimestamp = Int64.min
        for header in headers {
            RecordBatchHeader.setBaseOffset(next, in: &bytes, at: position)
            RecordBatchHeader.setPartitionLeaderEpoch(Int32(truncatingIfNeeded: epoch), in: &bytes, at: position)
            next += Int64(header.lastOffsetDelta) + 1
            maxTimestamp = max(maxTimestamp, header.maxTimestamp)
            position += header.totalSize
        }
        let pending = PendingAppend(offsets: AppendResult(baseOffset: base, lastOffset: next - 1))
        leaders.values[slot].nextOffset = next
        if idempotent { record(headers, from: base, pending: pending, in: slot) }
        let linger = leaders.values[slot].linger ?? configuration.linger
        let range = PendingRange(
            partition: partition, epoch: epoch, baseOffset: base, endOffset: next, maxTimestamp: maxTimestamp, chunks: [bytes], waiters: [pending]
        )
        add(range, linger: linger, now: now)
        return .appended(pending, sealIfDue(now: now))
    }

    /// Takes batches a proxy in another zone already uploaded into a router object (`headers`
    /// are theirs, in order, as the pointer carries them): checks leadership and idempotent
    /// sequences, gives them offsets, and adds a pointer to the open buffer. Nothing is uploaded
    /// for it: a buffer of pointers only is committed as soon as its turn comes.
    package mutating func stageRemote(
        _ partition: PartitionKey, at location: RemoteLocation, headers: [RecordBatchHeader], now: ContinuousClock.Instant
    ) throws(StorageError) -> Staged {
        guard !stopped else { throw StorageError(.shuttingDown, "the agent is shutting down") }
        guard let slot = leaders.index(forKey: partition) else { throw notLeader(partition) }
        guard !headers.isEmpty else { throw StorageError(.corrupt, "a pointer to \(location.objectKey) for \(partition) carries no batch") }
        if headers.contains(where: { $0.producerID >= 0 && $0.baseSequence >= 0 }),
            let duplicate = try checkSequences(partition, leaders.values[slot].producers, headers)
        {
            return .duplicate(duplicate)
        }
        let epoch = leaders.values[slot].epoch
        let base = leaders.values[slot].nextOffset
        let next = base + headers.reduce(0) { $0 + Int64($1.lastOffsetDelta) + 1 }
        let pending = PendingAppend(offsets: AppendResult(baseOffset: base, lastOffset: next - 1))
        leaders.values[slot].nextOffset = next
        record(headers, from: base, pending: pending, in: slot)
        let range = PendingRange(
            partition: partition, epoch: epoch, baseOffset: base, endOffset: next, maxTimestamp: headers.map(\.maxTimestamp).max()!,
            chunks: [], waiters: [pending], remote: location
        )
        add(range, linger: leaders.values[slot].linger ?? configuration.linger, now: now)
        return .appended(pending, sealIfDue(now: now))
    }

    /// Records idempotent batches given offsets from `base` in the partition's producer state.
    private mutating func record(_ headers: [RecordBatchHeader], from base: Int64, pending: PendingAppend, in slot: Dictionary<PartitionKey, Leadership>.Index) {
        var offset = base
        for header in headers {
            defer { offset += Int64(header.lastOffsetDelta) + 1 }
            guard header.producerID >= 0, header.baseSequence >= 0 else { continue }
            leaders.values[slot].producers.record(
                producerID: header.producerID, epoch: header.producerEpoch,
                .init(
                    firstSequence: header.baseSequence, lastSequence: ProducerStateTable.last(first: header.baseSequence, count: header.lastOffsetDelta + 1),
                    baseOffset: offset, lastOffset: offset + Int64(header.lastOffsetDelta), pending: pending
                )
            )
        }
    }

    private mutating func add(_ range: PendingRange, linger: Duration, now: ContinuousClock.Instant) {
        if open == nil { open = OpenBuffer(opened: now, linger: linger) }
        open!.linger = min(open!.linger, linger)
        let partition = range.partition
        if range.remote != nil {
            open!.pieces.append(range)
            open!.openLocal[partition] = nil
            return
        }
        let size = range.byteCount
        open!.bytes += size
        unuploadedBytes += size
        uncommittedBytes += size
        if let index = open!.openLocal[partition] {
            open!.pieces[index].endOffset = range.endOffset
            open!.pieces[index].maxTimestamp = max(open!.pieces[index].maxTimestamp, range.maxTimestamp)
            open!.pieces[index].chunks += range.chunks
            open!.pieces[index].waiters += range.waiters
        } else {
            open!.openLocal[partition] = open!.pieces.count
            open!.pieces.append(range)
        }
    }

    /// Checks idempotent batches against the producer state: nil to append them, the original
    /// append for a retried batch, or the refusal. Changes nothing: `stage` records.
    private func checkSequences(_ partition: PartitionKey, _ table: ProducerStateTable, _ headers: [RecordBatchHeader]) throws(StorageError) -> PendingAppend? {
        var scratch = table
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
                    .outOfOrderSequence, "producer \(header.producerID) sent sequence \(received) to \(partition) where \(expected) was expected"
                )
            case .failure(.staleEpoch(let current, let received)):
                throw StorageError(.invalidProducerEpoch, "producer \(header.producerID) epoch \(received) is older than its current epoch \(current)")
            }
        }
        return nil
    }

    private func notLeader(_ partition: PartitionKey) -> StorageError {
        StorageError(.notLeader, "this agent (node \(nodeID)) does not lead \(partition)")
    }

    /// Whether `size` more bytes fit under the bound now.
    package func hasRoom(for size: Int) -> Bool {
        SealPolicy.fits(size, pending: uncommittedBytes, limit: configuration.maxUncommittedBytes)
    }

    // MARK: Sealing

    /// Time passed: seal a buffer whose linger is over.
    package mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        guard !stopped else { return [] }
        sealPolicy.passed(now)
        return sealIfDue(now: now)
    }

    /// Seals the open buffer as ``SealPolicy`` says. A buffer of pointers only has nothing to
    /// upload: it is sealed as soon as no earlier buffer waits for its commit, so pointers that
    /// arrive while a commit is in flight share the next one (group commit: one commit per
    /// round trip to the index, however many pointers come).
    private mutating func sealIfDue(now: ContinuousClock.Instant) -> [Action] {
        guard let buffer = open else { return [] }
        if !buffer.hasLocalData { return sealed.isEmpty ? seal() : [] }
        switch sealPolicy.decide(bytes: buffer.bytes, opened: buffer.opened, linger: buffer.linger, uploadsInFlight: uploadsInFlight, now: now) {
        case .seal: return seal()
        case .wakeUp(let instant): return [.wakeUp(at: instant)]
        case .wait: return []
        }
    }

    /// Seals the open buffer. Sequence numbers are given here, not at opening, so a buffer emptied
    /// by a resignation never leaves a hole in the commit order.
    private mutating func seal() -> [Action] {
        let buffer = open!
        open = nil
        sealPolicy.discard()
        sequence += 1
        let sealedBuffer = SealedBuffer(sequence: sequence, ranges: buffer.pieces, bytes: buffer.bytes)
        guard buffer.hasLocalData else {
            sealed[sequence] = .uploaded(sealedBuffer, nil)
            return nextCommit()
        }
        uploadsInFlight += 1
        sealed[sequence] = .uploading(sealedBuffer)
        return [.upload(sealedBuffer)]
    }

    // MARK: Upload and commit

    /// Buffer `sequence`, while it is being uploaded (what its object is encoded from).
    package func uploading(_ sequence: Int) -> SealedBuffer? {
        guard case .uploading(let buffer) = sealed[sequence] else { return nil }
        return buffer
    }

    /// Buffer `sequence`'s object is encoded; `stored` are its local ranges' batches as they sit
    /// in it, in order. The ranges hold those slices from now on: the appended copies are freed
    /// before the upload ends, and the log cache later keeps exact slices of one object.
    package mutating func encoded(_ sequence: Int, stored: [ByteBuffer]) {
        guard case .uploading(var buffer) = sealed[sequence] else { return }
        sealed[sequence] = nil
        var slices = stored.makeIterator()
        for index in buffer.ranges.indices where buffer.ranges[index].remote == nil {
            guard let slice = slices.next() else { break }
            buffer.ranges[index].chunks = [slice]
        }
        sealed[sequence] = .uploading(buffer)
    }

    /// The buffer's object is in the store.
    package mutating func uploaded(_ sequence: Int, object: UploadedObject, now: ContinuousClock.Instant) -> [Action] {
        guard case .uploading(let buffer) = sealed[sequence] else { return [] }
        objectsUploaded += 1
        uploadsInFlight -= 1
        unuploadedBytes -= buffer.bytes
        sealed[sequence] = .uploaded(buffer, object)
        var actions = nextCommit()
        if !stopped { actions += sealIfDue(now: now) }
        return actions
    }

    /// The upload was given up (the agent is stopping): nobody gets an answer but an error, and
    /// the buffer's commit turn is skipped.
    package mutating func uploadFailed(_ sequence: Int) -> [Action] {
        guard case .uploading(let buffer) = sealed[sequence] else { return [] }
        uploadsInFlight -= 1
        unuploadedBytes -= buffer.bytes
        uncommittedBytes -= buffer.bytes
        sealed[sequence] = .abandoned
        let error = StorageError(.shuttingDown, "the agent stopped before the data was committed")
        return [.roomFreed] + buffer.ranges.map { .fail($0.waiters, error) } + nextCommit() + sealPointers()
    }

    /// What the index made of the commit of buffer `sequence`, range by range in request order.
    package mutating func committed(_ sequence: Int, outcomes: [CommitResponse.Outcome]) -> [Action] {
        guard case .committing(let buffer, let object) = sealed[sequence] else { return [] }
        sealed[sequence] = nil
        commitTurn += 1
        uncommittedBytes -= buffer.bytes
        var actions: [Action] = [.roomFreed]
        let segments = Self.segments(buffer, object)
        for ((range, segment), outcome) in zip(zip(buffer.ranges, segments), outcomes) {
            let partition = range.partition
            switch outcome {
            case .accepted:
                rangesCommitted += 1
                actions.append(.committed(partition, segment, range.remote == nil ? range.batches : nil))
                actions.append(.succeed(range.waiters))
            case .fenced(let leader, let epoch):
                actions += resignIfStill(range, leader: leader)
                actions.append(.leaderMoved(partition, leader: leader))
                actions.append(.fail(range.waiters, StorageError(.notLeader, "leadership of \(partition) moved to node \(leader) (epoch \(epoch))", leader: leader)))
            case .outOfOrder(let next):
                actions += resignIfStill(range)
                actions.append(.fail(range.waiters, StorageError(.notLeader, "the log of \(partition) moved on to offset \(next) without us")))
            case .unknownPartition:
                actions += resignIfStill(range)
                actions.append(.fail(range.waiters, StorageError(.unknownPartition, "partition \(partition) no longer exists")))
            case .expired:
                // Too late to be safe from garbage collection: not acknowledged, so the producer
                // retries; the offsets assigned after it are void too.
                actions += resignIfStill(range)
                actions.append(.fail(range.waiters, StorageError(.unavailable, "the commit of \(partition) came too late; retry the produce")))
            }
        }
        return actions + nextCommit() + sealPointers()
    }

    /// A commit finished: pointers that gathered meanwhile go out together.
    private mutating func sealPointers() -> [Action] {
        guard let buffer = open, !buffer.hasLocalData, sealed.isEmpty else { return [] }
        return seal()
    }

    /// A refused range ends the leadership it was written under, not a newer one taken since
    /// (whose own ranges meet the index on their own).
    private mutating func resignIfStill(_ range: PendingRange, leader: Int? = nil) -> [Action] {
        guard leaders[range.partition]?.epoch == range.epoch else { return [] }
        return resign(range.partition, leader: leader)
    }

    /// The index refused the commit itself (malformed, too large): its appends fail with
    /// `error`, and the leadership they were written under ends (the offsets given after them
    /// are void; leading again starts from the index's end).
    package mutating func commitRefused(_ sequence: Int, _ error: StorageError) -> [Action] {
        guard case .committing(let buffer, _) = sealed[sequence] else { return [] }
        sealed[sequence] = nil
        commitTurn += 1
        uncommittedBytes -= buffer.bytes
        var actions: [Action] = [.roomFreed]
        for range in buffer.ranges {
            actions += resignIfStill(range)
            actions.append(.fail(range.waiters, error))
        }
        return actions + nextCommit() + sealPointers()
    }

    /// The commit was given up (the agent is stopping): its appends fail; the object is left for
    /// garbage collection.
    package mutating func commitFailed(_ sequence: Int) -> [Action] {
        guard case .committing(let buffer, _) = sealed[sequence] else { return [] }
        sealed[sequence] = nil
        commitTurn += 1
        uncommittedBytes -= buffer.bytes
        let error = StorageError(.shuttingDown, "the agent stopped before the data was committed")
        return [.roomFreed] + buffer.ranges.map { .fail($0.waiters, error) } + nextCommit() + sealPointers()
    }

    /// The commit whose turn it is, once its upload is done; abandoned turns are skipped.
    private mutating func nextCommit() -> [Action] {
        while case .abandoned = sealed[commitTurn] {
            sealed[commitTurn] = nil
            commitTurn += 1
        }
        guard case .uploaded(let buffer, let object) = sealed[commitTurn] else { return [] }
        sealed[commitTurn] = .committing(buffer, object)
        let ranges = zip(buffer.ranges, Self.segments(buffer, object)).map { range, segment in
            CommitRequest.Range(partition: range.partition, leaderEpoch: range.epoch, segment: segment)
        }
        var routerObjects: [CommitRequest.ObjectReference] = []
        for location in buffer.ranges.compactMap(\.remote) {
            let reference = CommitRequest.ObjectReference(key: location.objectKey, size: location.objectSize)
            if !routerObjects.contains(reference) { routerObjects.append(reference) }
        }
        let request = CommitRequest(
            nodeID: nodeID, objectKey: object?.key ?? "", objectSize: object?.size ?? 0, ranges: ranges,
            routerObjects: routerObjects
        )
        return [.commit(CommitPlan(sequence: commitTurn, request: request))]
    }

    /// Where each range of `buffer` lives: its place in the uploaded WAL object (local ranges, in
    /// order), or the router object it points into.
    private static func segments(_ buffer: SealedBuffer, _ object: UploadedObject?) -> [Segment] {
        var placements = (object?.placements ?? [])[...]
        return buffer.ranges.map { range in
            let (key, position, length): (String, Int, Int)
            if let remote = range.remote {
                (key, position, length) = (remote.objectKey, remote.position, remote.length)
            } else {
                let placement = placements.popFirst()!
                (key, position, length) = (object!.key, placement.position, placement.length)
            }
            return Segment(
                baseOffset: range.baseOffset, endOffset: range.endOffset, objectKey: key, position: position, length: length, maxTimestamp: range.maxTimestamp
            )
        }
    }

    // MARK: Stopping

    /// Nothing sealed is waiting for its upload or commit.
    package var isDrained: Bool { sealed.isEmpty && open == nil }

    /// Takes no more appends; what was appended is sealed so it is still uploaded and committed.
    package mutating func shutdown() -> [Action] {
        guard !stopped else { return [] }
        stopped = true
        return open == nil ? [] : seal()
    }

    /// Gives up on everything not yet committed (a stop whose drain ran out of time): every
    /// waiting append fails, unacknowledged, and the machine is drained. An upload or commit
    /// still finishing afterwards finds nothing to answer.
    package mutating func abandon() -> [Action] {
        stopped = true
        let error = StorageError(.shuttingDown, "the agent stopped before the data was committed")
        var ranges = open?.pieces ?? []
        if open != nil { sealPolicy.discard() }
        open = nil
        for stage in sealed.values {
            switch stage {
            case .uploading(let buffer), .uploaded(let buffer, _), .committing(let buffer, _): ranges += buffer.ranges
            case .abandoned: break
            }
        }
        sealed.removeAll()
        unuploadedBytes = 0
        uncommittedBytes = 0
        uploadsInFlight = 0
        return ranges.map { .fail($0.waiters, error) } + [.roomFreed]
    }
}
