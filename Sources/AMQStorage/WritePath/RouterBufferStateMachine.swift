import AMQKafkaProtocol
import AMQStreamIndex
import Foundation
import NIOCore

/// The proxy side of zone routing, as a pure state machine: produces an agent takes for
/// partitions that other agents lead (it is their read-only replica in the client's zone) gather
/// in one router buffer, shared by every partition and leader, sealed like a WAL buffer (size,
/// linger) and uploaded as one router object; then each leader is sent pointers into it. Pointers
/// go out in seal order, so a producer's pipelined requests reach its leader in the order they
/// were taken, whatever order uploads finish in. The owning actor (``RouterWriter``) carries out
/// the actions. docs/zone-routing.md describes the whole path.
package struct RouterBufferStateMachine: Sendable {
    package typealias Configuration = WritePathStateMachine.Configuration

    /// A produce's batches for one partition, on their way to its leader.
    package struct Entry: Sendable {
        package var partition: PartitionKey
        package var leader: Int
        package var batches: ByteBuffer
        package var headers: [RecordBatchHeader]
        package var route: Completion<AppendResult>
    }

    package struct SealedBuffer: Sendable {
        package var sequence: Int
        package var entries: [Entry]
        package var bytes: Int
    }

    /// What a leader is told: where a produce's batches are, and their headers (producer ids,
    /// sequences, record counts, timestamps) so it can check and place them without reading them.
    package struct Pointer: Sendable {
        package var partition: PartitionKey
        package var location: WritePathStateMachine.RemoteLocation
        package var headers: [RecordBatchHeader]
        /// The batches themselves stay here (the proxy may cache them); they never cross zones.
        package var batches: ByteBuffer
        package var route: Completion<AppendResult>
    }

    package enum Action: Sendable {
        /// Upload the buffer as one router object, then report ``uploaded(_:object:now:)`` or ``uploadFailed(_:)``.
        case upload(SealedBuffer)
        /// Send these pointers to `leader`, after every pointer released before them.
        case forward(leader: Int, [Pointer])
        /// Call ``tick(now:)`` at this instant.
        case wakeUp(at: ContinuousClock.Instant)
        case fail([Completion<AppendResult>], StorageError)
        /// Bytes were freed: produces waiting for room may fit now.
        case roomFreed
    }

    package enum Staged: Sendable {
        case routed(Completion<AppendResult>, [Action])
        /// No room until uploads catch up: wait for ``Action/roomFreed`` and stage again with `afterWaiting: true`.
        case needsRoom
    }

    private enum Stage: Sendable {
        case uploading(SealedBuffer)
        case uploaded(SealedBuffer, WritePathStateMachine.UploadedObject)
        case abandoned
    }

    package private(set) var configuration: Configuration
    private var entries: [Entry] = []
    private var opened: ContinuousClock.Instant?
    /// The open buffer's linger: the lowest of its produces' topics.
    private var linger: Duration = .zero
    private var bytes = 0
    private var sequence = 0
    private var sealed: [Int: Stage] = [:]
    private var forwardTurn = 1
    private var sealPolicy: SealPolicy
    package private(set) var stopped = false
    package private(set) var unuploadedBytes = 0
    /// Bytes taken and not yet answered by their leader (uploaded ones included: with the
    /// controller away, leaders cannot commit): what bounds memory.
    package private(set) var unsettledBytes = 0
    package private(set) var uploadsInFlight = 0
    package private(set) var objectsUploaded = 0

    package init(configuration: Configuration) {
        self.configuration = configuration
        sealPolicy = SealPolicy(
            maxBufferBytes: configuration.maxBufferBytes, maxConcurrentUploads: configuration.maxConcurrentUploads, maxPutsPerSecond: configuration.maxPutsPerSecond
        )
    }

    /// The cluster's `router.max.puts.per.second` changed (nil or the same value: as before). As
    /// the WAL's (``WritePathStateMachine/setPutBudget(_:)``): a buffer is sealed as soon as no
    /// upload is in flight and the budget allows, else by size or linger.
    package mutating func setPutBudget(_ perSecond: Int?) {
        guard perSecond != sealPolicy.maxPutsPerSecond else { return }
        sealPolicy.setBudget(perSecond)
    }

    /// The agent's memory budget changed (``MemoryBudget``): at most `bytes` wait here, as in
    /// ``WritePathStateMachine/setMemoryLimit(_:)``.
    package mutating func setMemoryLimit(_ bytes: Int) -> [Action] {
        guard bytes != configuration.maxUncommittedBytes else { return [] }
        configuration.maxUncommittedBytes = bytes
        return [.roomFreed]
    }

    /// Takes validated batches (`headers` are theirs) of a produce to `partition`, led by `leader`.
    /// `linger` is the topic's (`linger.ms`), else the configuration's.
    package mutating func stage(
        _ partition: PartitionKey, leader: Int, batches: ByteBuffer, headers: [RecordBatchHeader], linger: Duration? = nil, afterWaiting: Bool = false,
        now: ContinuousClock.Instant
    ) throws(StorageError) -> Staged {
        guard !stopped else { throw StorageError(.shuttingDown, "the agent is shutting down") }
        if !afterWaiting, !hasRoom(for: batches.readableBytes) { return .needsRoom }
        let route = Completion<AppendResult>()
        let entryLinger = linger ?? configuration.linger
        if entries.isEmpty {
            opened = now
            self.linger = entryLinger
        } else {
            self.linger = min(self.linger, entryLinger)
        }
        entries.append(Entry(partition: partition, leader: leader, batches: batches, headers: headers, route: route))
        bytes += batches.readableBytes
        unuploadedBytes += batches.readableBytes
        unsettledBytes += batches.readableBytes
        return .routed(route, sealIfDue(now: now))
    }

    /// Whether `size` more bytes fit under the bound now.
    package func hasRoom(for size: Int) -> Bool {
        SealPolicy.fits(size, pending: unsettledBytes, limit: configuration.maxUncommittedBytes)
    }

    /// Pointers holding `bytes` got their leader's answer (or gave up on it): their room is free.
    package mutating func settled(bytes: Int) -> [Action] {
        unsettledBytes = max(0, unsettledBytes - bytes)
        return [.roomFreed]
    }

    package mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        guard !stopped else { return [] }
        sealPolicy.passed(now)
        return sealIfDue(now: now)
    }

    private mutating func sealIfDue(now: ContinuousClock.Instant) -> [Action] {
        guard let opened, !entries.isEmpty else { return [] }
        switch sealPolicy.decide(bytes: bytes, opened: opened, linger: linger, uploadsInFlight: uploadsInFlight, now: now) {
        case .seal: return [seal()]
        case .wakeUp(let instant): return [.wakeUp(at: instant)]
        case .wait: return []
        }
    }

    private mutating func seal() -> Action {
        sequence += 1
        uploadsInFlight += 1
        let buffer = SealedBuffer(sequence: sequence, entries: entries, bytes: bytes)
        sealed[sequence] = .uploading(buffer)
        entries = []
        bytes = 0
        opened = nil
        sealPolicy.discard()
        return .upload(buffer)
    }

    /// Buffer `sequence`, while it is being uploaded (what its object is encoded from).
    package func uploading(_ sequence: Int) -> SealedBuffer? {
        guard case .uploading(let buffer) = sealed[sequence] else { return nil }
        return buffer
    }

    /// Buffer `sequence`'s object is encoded; `stored` are its entries' batches as they sit in it,
    /// in order. The entries hold those slices from now on, so the produce requests they came
    /// in are freed before the upload ends (see ``WritePathStateMachine/encoded(_:stored:)``).
    package mutating func encoded(_ sequence: Int, stored: [ByteBuffer]) {
        guard case .uploading(var buffer) = sealed[sequence], stored.count == buffer.entries.count else { return }
        sealed[sequence] = nil
        for index in buffer.entries.indices { buffer.entries[index].batches = stored[index] }
        sealed[sequence] = .uploading(buffer)
    }

    /// The router object is in the store; `object.placements` are the entries', in order.
    package mutating func uploaded(_ sequence: Int, object: WritePathStateMachine.UploadedObject, now: ContinuousClock.Instant) -> [Action] {
        guard case .uploading(let buffer) = sealed[sequence] else { return [] }
        objectsUploaded += 1
        uploadsInFlight -= 1
        unuploadedBytes -= buffer.bytes
        sealed[sequence] = .uploaded(buffer, object)
        var actions = releaseForwards()
        if !stopped { actions += sealIfDue(now: now) }
        return actions
    }

    /// The upload was given up: its produces fail, and its turn is skipped.
    package mutating func uploadFailed(_ sequence: Int, _ error: StorageError) -> [Action] {
        guard case .uploading(let buffer) = sealed[sequence] else { return [] }
        uploadsInFlight -= 1
        unuploadedBytes -= buffer.bytes
        unsettledBytes -= buffer.bytes
        sealed[sequence] = .abandoned
        return [.roomFreed, .fail(buffer.entries.map(\.route), error)] + releaseForwards()
    }

    /// Pointers of every uploaded buffer whose turn has come, one forward per leader and buffer,
    /// each producer's entries in the order they were taken.
    private mutating func releaseForwards() -> [Action] {
        var actions: [Action] = []
        while let stage = sealed[forwardTurn] {
            switch stage {
            case .uploading: return actions
            case .abandoned: break
            case .uploaded(let buffer, let object):
                var byLeader: [(leader: Int, pointers: [Pointer])] = []
                for (entry, placement) in zip(buffer.entries, object.placements) {
                    let location = WritePathStateMachine.RemoteLocation(
                        objectKey: object.key, objectSize: object.size, position: placement.position, length: placement.length)
                    let pointer = Pointer(partition: entry.partition, location: location, headers: entry.headers, batches: entry.batches, route: entry.route)
                    if let index = byLeader.firstIndex(where: { $0.leader == entry.leader }) {
                        byLeader[index].pointers.append(pointer)
                    } else {
                        byLeader.append((entry.leader, [pointer]))
                    }
                }
                actions += byLeader.map { .forward(leader: $0.leader, $0.pointers) }
            }
            sealed[forwardTurn] = nil
            forwardTurn += 1
        }
        return actions
    }

    /// Takes no more produces; what was taken is sealed and still goes out.
    package mutating func shutdown() -> [Action] {
        guard !stopped else { return [] }
        stopped = true
        return entries.isEmpty ? [] : [seal()]
    }

    /// Gives up on everything not yet forwarded (a stop whose drain ran out of time): every
    /// waiting produce fails and the machine is drained.
    package mutating func abandon(_ error: StorageError) -> [Action] {
        stopped = true
        var routes = entries.map(\.route)
        if opened != nil { sealPolicy.discard() }
        entries = []
        bytes = 0
        opened = nil
        for stage in sealed.values {
            switch stage {
            case .uploading(let buffer), .uploaded(let buffer, _): routes += buffer.entries.map(\.route)
            case .abandoned: break
            }
        }
        sealed.removeAll()
        unuploadedBytes = 0
        unsettledBytes = 0
        uploadsInFlight = 0
        return [.fail(routes, error), .roomFreed]
    }

    /// Nothing waits for an upload or a forward.
    package var isDrained: Bool { sealed.isEmpty && entries.isEmpty }
}
