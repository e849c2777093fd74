import AMQKafkaProtocol
import AMQStorage
import AMQStreamIndex
import Foundation
import NIOCore
import Testing

/// The proxy's router buffer as event/action sequences: one buffer for every partition and
/// leader, sealed like a WAL buffer, and pointers released to leaders in seal order.
@Suite struct RouterBufferStateMachineTests {
    let p0 = PartitionKey(topicID: "t", partition: 0)
    let p1 = PartitionKey(topicID: "t", partition: 1)
    let start = ContinuousClock.now

    func machine(_ configure: (inout RouterBufferStateMachine.Configuration) -> Void = { _ in }) -> RouterBufferStateMachine {
        var configuration = RouterBufferStateMachine.Configuration(maxBufferBytes: 1 << 20, linger: .milliseconds(50))
        configure(&configuration)
        return RouterBufferStateMachine(configuration: configuration)
    }

    @Test func oneObjectForEveryLeaderAndPointersGroupedPerLeader() throws {
        var machine = machine()
        let (first, actions) = try routed(machine.stage(p0, leader: 1, batches: batch(2), headers: headers(batch(2)), now: start))
        #expect(wakeUps(actions) == [start + .milliseconds(50)])
        let (second, _) = try routed(machine.stage(p1, leader: 3, batches: batch(1), headers: headers(batch(1)), now: start))
        let (third, _) = try routed(machine.stage(p0, leader: 1, batches: batch(3), headers: headers(batch(3)), now: start))
        let buffer = try #require(uploads(machine.tick(now: start + .milliseconds(50))).first)
        #expect(buffer.entries.map(\.partition) == [p0, p1, p0])
        let object = uploaded(buffer)
        let forwards = forwarded(machine.uploaded(buffer.sequence, object: object, now: start))
        #expect(forwards.map(\.leader) == [1, 3])
        #expect(ids(forwards[0].pointers.map(\.route)) == ids([first, third]) && ids(forwards[1].pointers.map(\.route)) == ids([second]))
        #expect(forwards[0].pointers.map(\.location.position) == [0, object.placements[0].length + object.placements[1].length])
        #expect(forwards[0].pointers.allSatisfy { $0.location.objectKey == object.key })
        #expect(forwards[0].pointers[1].headers.map(\.lastOffsetDelta) == [2])
        #expect(machine.isDrained)
    }

    /// `router.max.puts.per.second` (issue 14): with a budget a lone proxied produce is uploaded
    /// at once; one taken while that upload is in flight waits for it or its linger; without a
    /// budget (the default) every buffer waits for its linger.
    @Test func withABudgetALoneProduceIsUploadedAtOnce() throws {
        var lingering = machine()
        #expect(uploads(try routed(lingering.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start)).1).isEmpty)

        var early = machine()
        early.setPutBudget(10)
        let first = try #require(uploads(routed(early.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start)).1).first)
        #expect(uploads(try routed(early.stage(p1, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start)).1).isEmpty)
        let next = uploads(early.uploaded(first.sequence, object: uploaded(first), now: start + .milliseconds(5)))
        #expect(next.count == 1 && next[0].entries.map(\.partition) == [p1], "sealed as soon as the first upload ended")
    }

    @Test func pointersGoOutInSealOrderWhateverOrderUploadsFinishIn() throws {
        var machine = machine { $0.maxBufferBytes = 1 }
        let one = try #require(uploads(routed(machine.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start)).1).first)
        let two = try #require(uploads(routed(machine.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start)).1).first)
        #expect(forwarded(machine.uploaded(two.sequence, object: uploaded(two), now: start)).isEmpty)
        let released = forwarded(machine.uploaded(one.sequence, object: uploaded(one), now: start))
        #expect(ids(released.map(\.pointers.first?.route)) == ids([one.entries[0].route, two.entries[0].route]))
    }

    @Test func aFailedUploadFailsItsProducesAndReleasesTheNextTurn() throws {
        var machine = machine { $0.maxBufferBytes = 1 }
        let one = try #require(uploads(routed(machine.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start)).1).first)
        let two = try #require(uploads(routed(machine.stage(p1, leader: 2, batches: batch(1), headers: headers(batch(1)), now: start)).1).first)
        _ = machine.uploaded(two.sequence, object: uploaded(two), now: start)
        let actions = machine.uploadFailed(one.sequence, StorageError(.shuttingDown, "stopping"))
        #expect(actions.contains { if case .fail(let routes, _) = $0 { ids(routes) == ids([one.entries[0].route]) } else { false } })
        #expect(forwarded(actions).map(\.leader) == [2])
    }

    /// A stop whose drain ran out of time: the produce uploading and the one still open both fail.
    @Test func abandoningFailsEveryProduceNotYetForwarded() throws {
        var machine = machine()
        let (uploading, _) = try routed(machine.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start))
        _ = try #require(uploads(machine.tick(now: start + .milliseconds(50))).first)
        let (open, _) = try routed(machine.stage(p1, leader: 2, batches: batch(1), headers: headers(batch(1)), now: start + .milliseconds(50)))
        let actions = machine.abandon(StorageError(.shuttingDown, "stopping"))
        let failed: [Completion<AppendResult>] = actions.flatMap { action -> [Completion<AppendResult>] in
            if case .fail(let routes, _) = action { routes } else { [] }
        }
        #expect(Set(ids(failed)) == Set(ids([uploading, open])))
        #expect(machine.isDrained && machine.unuploadedBytes == 0 && machine.uploadsInFlight == 0)
    }

    /// Room comes back when the leader answers, not at the upload: with leaders unable to commit
    /// (the controller away), routed bytes must not pile up (issue 11, finding 8).
    @Test func producesWaitForRoomUntilTheirLeaderAnswers() throws {
        let big = batch(6)
        var machine = machine { $0.maxBufferBytes = 1; $0.maxUncommittedBytes = big.readableBytes * 3 / 2 }
        let buffer = try #require(uploads(routed(machine.stage(p0, leader: 1, batches: big, headers: headers(big), now: start)).1).first)
        guard case .needsRoom = try machine.stage(p1, leader: 1, batches: big, headers: headers(big), now: start) else {
            Issue.record("expected to wait for room")
            return
        }
        let forwards = forwarded(machine.uploaded(buffer.sequence, object: uploaded(buffer), now: start))
        #expect(!machine.hasRoom(for: big.readableBytes), "room freed before the leader answered")
        let bytes = forwards.flatMap(\.pointers).reduce(0) { $0 + $1.batches.readableBytes }
        #expect(machine.settled(bytes: bytes).contains { if case .roomFreed = $0 { true } else { false } })
        #expect(machine.hasRoom(for: big.readableBytes))
    }

    @Test func shutdownSealsWhatWasTakenAndRefusesMore() throws {
        var machine = machine()
        _ = try routed(machine.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start))
        let buffer = try #require(uploads(machine.shutdown()).first)
        #expect(throws: StorageError.self) { try machine.stage(p0, leader: 1, batches: batch(1), headers: headers(batch(1)), now: start) }
        #expect(forwarded(machine.uploaded(buffer.sequence, object: uploaded(buffer), now: start)).count == 1)
        #expect(machine.isDrained)
    }

    func uploaded(_ buffer: RouterBufferStateMachine.SealedBuffer) -> WritePathStateMachine.UploadedObject {
        var position = 0
        var placements: [WritePathStateMachine.UploadedObject.Placement] = []
        for entry in buffer.entries {
            placements.append(.init(position: position, length: entry.batches.readableBytes))
            position += entry.batches.readableBytes
        }
        return .init(key: "router/n9/\(buffer.sequence)", size: position, placements: placements)
    }
}

private func ids(_ routes: [Completion<AppendResult>?]) -> [ObjectIdentifier?] { routes.map { $0.map(ObjectIdentifier.init) } }

private func batch(_ count: Int) -> ByteBuffer {
    RecordBatchBuilder.batch((0..<count).map { Record(value: Array("v\($0)".utf8), timestamp: 1_700_000_000_000) })
}

private func headers(_ bytes: ByteBuffer) -> [RecordBatchHeader] {
    (try? RecordBatchHeader.validateBatches(bytes)) ?? []
}

private func routed(_ staged: RouterBufferStateMachine.Staged) throws -> (Completion<AppendResult>, [RouterBufferStateMachine.Action]) {
    guard case .routed(let route, let actions) = staged else { throw StorageError(.corrupt, "expected the produce to be taken") }
    return (route, actions)
}

private func uploads(_ actions: [RouterBufferStateMachine.Action]) -> [RouterBufferStateMachine.SealedBuffer] {
    actions.compactMap { if case .upload(let buffer) = $0 { buffer } else { nil } }
}

private func wakeUps(_ actions: [RouterBufferStateMachine.Action]) -> [ContinuousClock.Instant] {
    actions.compactMap { if case .wakeUp(let at) = $0 { at } else { nil } }
}

private func forwarded(_ actions: [RouterBufferStateMachine.Action]) -> [(leader: Int, pointers: [RouterBufferStateMachine.Pointer])] {
    actions.compactMap { if case .forward(let leader, let pointers) = $0 { (leader, pointers) } else { nil } }
}
