import AMQKafkaProtocol
import AMQObjectStore
import AMQStreamIndex
import Foundation
import Logging
import NIOCore

/// One pointer's outcome at its leader: the offsets its batches got, or why not.
package typealias PointerOutcome = Result<AppendResult, StorageError>

/// The leader's answer to pointers handed over: one outcome per pointer, or an error for all.
package typealias PointerDelivery = @Sendable () async throws -> [PointerOutcome]

/// How pointers reach their leaders (the agents' RPC). `send` hands them over before it returns,
/// so sends made one after another reach a leader in that order; the delivery awaits the answer.
package protocol PointerTransport: Sendable {
    func send(_ pointers: [RouterBufferStateMachine.Pointer], to leader: Int) -> PointerDelivery
}

/// The proxy side of zone routing: owns a ``RouterBufferStateMachine``, uploads router objects
/// and hands pointers to the transport in the order the machine releases them. A produce routed
/// here completes when its leader has committed the pointer.
///
/// `run()` must be running; the rest is its API.
package actor RouterWriter {
    package let nodeID: Int
    let configuration: StorageConfiguration
    let store: any ObjectStore
    /// Keys for router objects, their intents recorded with the index before each upload.
    let keys: UploadKeys
    let transport: any PointerTransport
    let logger: Logger
    /// Told of every routed produce its leader took, with the batches and their offsets (the
    /// proxy is its partition's read-only replica in this zone, and may cache them).
    let onRouted: @Sendable (PartitionKey, AppendResult, ByteBuffer) async -> Void

    private var machine: RouterBufferStateMachine
    private let work: AsyncStream<Work>
    private let workSink: AsyncStream<Work>.Continuation
    private var roomWaiters: [Int: (deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, any Error>)] = [:]
    private var nextWaiter = 0

    private enum Work: Sendable {
        /// By sequence, as the storage engine's: the buffer is read from the machine when the upload starts.
        case upload(Int)
        case awaitLeader(PointerDelivery, [RouterBufferStateMachine.Pointer])
        case wakeUp(ContinuousClock.Instant)
    }

    package init(
        nodeID: Int, configuration: StorageConfiguration, store: any ObjectStore, index: any PartitionIndex, transport: any PointerTransport,
        logger: Logger, onRouted: @escaping @Sendable (PartitionKey, AppendResult, ByteBuffer) async -> Void = { _, _, _ in }
    ) {
        self.nodeID = nodeID
        self.configuration = configuration
        self.store = store
        self.keys = UploadKeys(index: index, kind: .router, nodeID: nodeID)
        self.transport = transport
        self.logger = logger
        self.onRouted = onRouted
        machine = RouterBufferStateMachine(configuration: configuration.writePath)
        (work, workSink) = AsyncStream.makeStream(of: Work.self)
    }

    /// Uploads, forwards and keeps time until shut down and drained.
    package func run() async {
        await withDiscardingTaskGroup { tasks in
            for await item in work {
                switch item {
                case .upload(let sequence): tasks.addTask { await self.upload(sequence) }
                case .awaitLeader(let delivery, let pointers): tasks.addTask { await self.settle(delivery, pointers) }
                case .wakeUp(let instant):
                    tasks.addTask {
                        try? await Task.sleep(until: instant)
                        await self.tick()
                    }
                }
            }
        }
    }

    package func shutdown() {
        execute(machine.shutdown())
        for (_, waiter) in roomWaiters { waiter.continuation.resume(throwing: StorageError(.shuttingDown, "the agent is shutting down")) }
        roomWaiters.removeAll()
        finishIfDrained()
    }

    /// Takes validated batches of a produce to `partition`, which `leader` leads; the returned
    /// completion gets the offsets the leader gave them.
    /// `linger` is the topic's `linger.ms`, as for the WAL.
    package func route(
        _ partition: PartitionKey, leader: Int, batches: ByteBuffer, headers: [RecordBatchHeader], linger: Duration? = nil
    ) async throws -> Completion<AppendResult> {
        var afterWaiting = false
        while true {
            let staged = try machine.stage(
                partition, leader: leader, batches: batches, headers: headers, linger: linger, afterWaiting: afterWaiting, now: .now
            )
            switch staged {
            case .routed(let route, let actions):
                execute(actions)
                return route
            case .needsRoom:
                try await waitForRoom()
                afterWaiting = true
            }
        }
    }

    private func waitForRoom() async throws {
        nextWaiter += 1
        let id = nextWaiter
        let deadline = ContinuousClock.now + configuration.appendTimeout
        workSink.yield(.wakeUp(deadline))
        try await withCheckedThrowingContinuation { roomWaiters[id] = (deadline, $0) }
    }

    private func tick() {
        let now = ContinuousClock.now
        // Waits for room past the append timeout fail, as the engine's do.
        for (id, waiter) in roomWaiters where waiter.deadline <= now {
            roomWaiters.removeValue(forKey: id)
            waiter.continuation.resume(
                throwing: StorageError(.backpressureTimeout, "\(machine.unsettledBytes) routed bytes are waiting to be stored and answered by their leaders; the object store, a leader or the controller is slow or down")
            )
        }
        execute(machine.tick(now: now))
    }

    private func execute(_ actions: [RouterBufferStateMachine.Action]) {
        for action in actions {
            switch action {
            case .upload(let buffer):
                workSink.yield(.upload(buffer.sequence))
            case .forward(let leader, let pointers):
                // Handed over here, in the order the machine released them: the transport keeps it.
                workSink.yield(.awaitLeader(transport.send(pointers, to: leader), pointers))
            case .wakeUp(let instant):
                workSink.yield(.wakeUp(instant))
            case .fail(let routes, let error):
                for route in routes { route.complete(.failure(error)) }
            case .roomFreed:
                for (id, waiter) in roomWaiters.sorted(by: { $0.key < $1.key }) where machine.hasRoom(for: 1) {
                    roomWaiters.removeValue(forKey: id)
                    waiter.continuation.resume()
                }
            }
        }
        finishIfDrained()
    }

    /// After ``shutdown()``, when draining takes too long: every produce not yet forwarded fails.
    package func abandon() {
        execute(machine.abandon(StorageError(.shuttingDown, "the agent stopped before the produce reached its leader")))
        finishIfDrained()
    }

    private func finishIfDrained() {
        if machine.stopped, machine.isDrained { workSink.finish() }
    }

    private func upload(_ sequence: Int) async {
        guard let (object, entries) = encode(sequence) else { return }
        let uploaded: WritePathStateMachine.UploadedObject
        do {
            uploaded = try await keys.upload(
                object, placements: entries.map { .init(position: $0.position, length: $0.length) }, to: store, configuration: configuration, logger: logger
            )
        } catch {
            execute(machine.uploadFailed(sequence, StorageError(.shuttingDown, "the agent stopped before the data was uploaded")))
            return
        }
        execute(machine.uploaded(sequence, object: uploaded, now: .now))
    }

    /// Buffer `sequence`'s router object; from now on its entries are slices of it.
    private func encode(_ sequence: Int) -> (ByteBuffer, [StreamObject.Entry])? {
        guard let buffer = machine.uploading(sequence) else { return nil }
        // Offsets are the leader's to give: the directory records each entry's record count.
        let inputs = buffer.entries.map { entry in
            StreamObject.Input(
                partition: entry.partition, baseOffset: 0, endOffset: entry.headers.reduce(0) { $0 + Int64($1.lastOffsetDelta) + 1 },
                maxTimestamp: entry.headers.map(\.maxTimestamp).max() ?? -1, batches: entry.batches
            )
        }
        let (object, entries) = StreamObject.encode(nodeID: nodeID, inputs)
        machine.encoded(sequence, stored: StreamObject.slices(of: object, entries))
        return (object, entries)
    }

    /// Answers each routed produce with its leader's outcome.
    private func settle(_ delivery: PointerDelivery, _ pointers: [RouterBufferStateMachine.Pointer]) async {
        defer { execute(machine.settled(bytes: pointers.reduce(0) { $0 + $1.batches.readableBytes })) }
        let outcomes: [PointerOutcome]
        do {
            outcomes = try await delivery()
        } catch {
            let failure = error as? StorageError ?? StorageError(.unavailable, "the leader did not answer: \(error)", underlying: error)
            for pointer in pointers { pointer.route.complete(.failure(failure)) }
            return
        }
        for (pointer, outcome) in zip(pointers, outcomes) {
            pointer.route.complete(outcome)
            if case .success(let offsets) = outcome { await onRouted(pointer.partition, offsets, pointer.batches) }
        }
        for pointer in pointers.dropFirst(outcomes.count) {
            pointer.route.complete(.failure(StorageError(.unavailable, "the leader's answer left out \(pointer.partition)")))
        }
    }

    /// The early-seal PUT budget of router objects (`router.max.puts.per.second`; nil: none).
    package func setPutBudget(_ perSecond: Int?) {
        machine.setPutBudget(perSecond)
        tick()
    }

    /// The router's share of the agent's memory budget (``MemoryBudget/routerBytes``).
    package func setMemoryLimit(_ bytes: Int) {
        execute(machine.setMemoryLimit(bytes))
    }

    package var statistics: (pendingUploadBytes: Int, uploadsInFlight: Int, objectsUploaded: Int, unsettledBytes: Int) {
        (machine.unuploadedBytes, machine.uploadsInFlight, machine.objectsUploaded, machine.unsettledBytes)
    }
}
