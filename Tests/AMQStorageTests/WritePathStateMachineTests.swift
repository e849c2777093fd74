import AMQKafkaProtocol
import AMQStorage
import AMQStreamIndex
import AMQTestSupport
import Foundation
import NIOCore
import Testing

/// The write path as event/action sequences on ``WritePathStateMachine``, with time passed in by
/// hand: no object store, no index, no sockets, no sleeps.
@Suite struct WritePathStateMachineTests {
    let p0 = PartitionKey(topicID: "t", partition: 0)
    let p1 = PartitionKey(topicID: "t", partition: 1)
    let start = ContinuousClock.now

    func machine(_ configure: (inout WritePathStateMachine.Configuration) -> Void = { _ in }) -> WritePathStateMachine {
        var configuration = WritePathStateMachine.Configuration(maxBufferBytes: 1 << 20, linger: .milliseconds(100))
        configure(&configuration)
        var machine = WritePathStateMachine(nodeID: 1, configuration: configuration)
        machine.lead(p0, epoch: 3, nextOffset: 10, producers: ProducerStateTable(), linger: nil)
        machine.lead(p1, epoch: 3, nextOffset: 0, producers: ProducerStateTable(), linger: nil)
        return machine
    }

    @Test func appendsGetOffsetsAndAreAnsweredOnlyAfterTheirCommitIsAccepted() throws {
        var machine = machine()
        let (a, first) = try appended(machine.stage(p0, batches: records(3), headers: headers(records(3)), now: start))
        #expect(a.offsets == AppendResult(baseOffset: 10, lastOffset: 12))
        #expect(wakeUps(first) == [start + .milliseconds(100)])
        let (b, second) = try appended(machine.stage(p1, batches: records(2), headers: headers(records(2)), now: start + .milliseconds(5)))
        #expect(b.offsets == AppendResult(baseOffset: 0, lastOffset: 1))
        #expect(second.isEmpty, "one wake-up per buffer")
        let (c, _) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start + .milliseconds(6)))
        #expect(c.offsets == AppendResult(baseOffset: 13, lastOffset: 13))

        #expect(machine.tick(now: start + .milliseconds(99)).isEmpty)
        let buffer = try #require(uploads(machine.tick(now: start + .milliseconds(100))).first)
        #expect(buffer.ranges.map(\.partition) == [p0, p1])
        #expect(buffer.ranges.map { $0.baseOffset..<$0.endOffset } == [10..<14, 0..<2])
        #expect(buffer.ranges[0].waiters.map(\.offsets) == [a.offsets, c.offsets])
        // The stored batches carry their offsets and the leader epoch.
        let stored = try RecordBatchHeader.validateBatches(buffer.ranges[0].batches)
        #expect(stored.map(\.baseOffset) == [10, 13] && stored.allSatisfy { $0.partitionLeaderEpoch == 3 })

        let plan = try #require(commits(machine.uploaded(buffer.sequence, object: object(buffer), now: start + .milliseconds(150))).first)
        #expect(plan.request.ranges.map(\.leaderEpoch) == [3, 3])
        #expect(plan.request.ranges.map(\.segment.baseOffset) == [10, 0])
        #expect(machine.unuploadedBytes == 0)

        let done = machine.committed(plan.sequence, outcomes: [.accepted, .accepted])
        #expect(succeeded(done).map(\.offsets) == [a.offsets, c.offsets, b.offsets])
        #expect(committedSegments(done).map(\.endOffset) == [14, 2])
        #expect(machine.isDrained && machine.rangesCommitted == 2 && machine.objectsUploaded == 1)
    }

    /// Memory (issue 14, item 4): once the object is encoded the ranges are slices of it, so the
    /// appended copies are freed before the upload ends and the log cache gets exact slices.
    @Test func anEncodedBufferHoldsSlicesOfItsObjectFromThenOn() throws {
        var machine = machine()
        _ = try appended(machine.stage(p0, batches: records(3), headers: headers(records(3)), now: start))
        _ = try appended(machine.stage(p1, batches: records(2), headers: headers(records(2)), now: start))
        let sealed = try #require(uploads(machine.tick(now: start + .milliseconds(100))).first)
        let uploading = try #require(machine.uploading(sealed.sequence))
        let inputs = uploading.localRanges.map {
            StreamObject.Input(partition: $0.partition, baseOffset: $0.baseOffset, endOffset: $0.endOffset, maxTimestamp: $0.maxTimestamp, batches: $0.batches)
        }
        let (encoded, entries) = StreamObject.encode(nodeID: 1, inputs)
        machine.encoded(sealed.sequence, stored: StreamObject.slices(of: encoded, entries))
        let slices = try #require(machine.uploading(sealed.sequence)).ranges.map(\.batches)
        #expect(slices == uploading.ranges.map(\.batches), "the same bytes")
        let base = encoded.withUnsafeReadableBytes { $0.baseAddress! }
        for (slice, entry) in zip(slices, entries) {
            #expect(slice.withUnsafeReadableBytes { $0.baseAddress! } == base + entry.position, "inside the object, not a copy")
        }
        let plan = try #require(commits(machine.uploaded(sealed.sequence, object: object(sealed), now: start)).first)
        let cached = machine.committed(plan.sequence, outcomes: [.accepted, .accepted]).compactMap { action -> ByteBuffer? in
            if case .committed(_, _, let batches) = action { batches } else { nil }
        }
        #expect(cached.map { $0.withUnsafeReadableBytes { $0.baseAddress! } } == entries.map { base + $0.position })
    }

    /// The memory budget's share (issue 14): a lower limit makes the next appends wait, a higher
    /// one frees room for those waiting.
    @Test func theMemoryLimitDecidesWhenAppendsWait() throws {
        var machine = machine { $0.maxUncommittedBytes = 1 << 20 }
        _ = try appended(machine.stage(p0, batches: records(3), headers: headers(records(3)), now: start))
        #expect(machine.setMemoryLimit(records(3).readableBytes).count == 1)
        guard case .needsRoom = try machine.stage(p1, batches: records(2), headers: headers(records(2)), now: start) else {
            Issue.record("an append beyond the lowered limit must wait")
            return
        }
        #expect(machine.setMemoryLimit(records(3).readableBytes).isEmpty, "the same limit again changes nothing")
        let raised = machine.setMemoryLimit(1 << 20)
        #expect(raised.contains { if case .roomFreed = $0 { true } else { false } })
        _ = try appended(machine.stage(p1, batches: records(2), headers: headers(records(2)), now: start))
    }

    @Test func aFullBufferIsSealedAtOnceAndZeroLingerSealsWhenNoUploadIsInFlight() throws {
        var bySize = machine { $0.maxBufferBytes = records(10).readableBytes }
        let (_, actions) = try appended(bySize.stage(p0, batches: records(10), headers: headers(records(10)), now: start))
        #expect(uploads(actions).count == 1)

        var groupCommit = machine { $0.linger = .zero }
        let (_, firstActions) = try appended(groupCommit.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let first = try #require(uploads(firstActions).first)
        // While the first upload is in flight, appends gather in one buffer…
        for _ in 0..<3 {
            let (_, more) = try appended(groupCommit.stage(p1, batches: records(1), headers: headers(records(1)), now: start))
            #expect(more.isEmpty)
        }
        // …sealed as soon as it lands.
        let next = uploads(groupCommit.uploaded(first.sequence, object: object(first), now: start))
        #expect(next.count == 1 && next[0].ranges[0].baseOffset == 0 && next[0].ranges[0].endOffset == 3)
    }

    @Test func aLingeredBufferHeldBackByUploadsWaitsForTheNextUploadNotForTimers() throws {
        var machine = machine { $0.maxConcurrentUploads = 1; $0.linger = .milliseconds(10) }
        _ = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let first = try #require(uploads(machine.tick(now: start + .milliseconds(10))).first)
        _ = try appended(machine.stage(p1, batches: records(1), headers: headers(records(1)), now: start + .milliseconds(11)))
        // Its linger passes while the one upload allowed is in flight: no seal, and no wake-up
        // in the past (that would spin); the upload's end seals it.
        #expect(machine.tick(now: start + .milliseconds(30)).isEmpty)
        #expect(machine.tick(now: start + .milliseconds(31)).isEmpty)
        #expect(uploads(machine.uploaded(first.sequence, object: object(first), now: start + .milliseconds(40))).count == 1)
    }

    @Test func commitsFollowSealOrderWhateverOrderUploadsFinishIn() throws {
        var machine = machine { $0.maxBufferBytes = 1 }
        let one = try #require(uploads(appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start)).1).first)
        let two = try #require(uploads(appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start)).1).first)
        let three = try #require(uploads(appended(machine.stage(p1, batches: records(1), headers: headers(records(1)), now: start)).1).first)
        #expect(commits(machine.uploaded(three.sequence, object: object(three), now: start)).isEmpty)
        #expect(commits(machine.uploaded(two.sequence, object: object(two), now: start)).isEmpty)
        let first = commits(machine.uploaded(one.sequence, object: object(one), now: start))
        #expect(first.map(\.sequence) == [one.sequence])
        #expect(commits(machine.committed(one.sequence, outcomes: [.accepted])).map(\.sequence) == [two.sequence])
        #expect(commits(machine.committed(two.sequence, outcomes: [.accepted])).map(\.sequence) == [three.sequence])
        _ = machine.committed(three.sequence, outcomes: [.accepted])
        #expect(machine.isDrained)
    }

    @Test func aFencedCommitEndsLeadershipAndNamesTheNewLeader() throws {
        var machine = machine { $0.maxBufferBytes = 1 }
        let (a, actions) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let buffer = try #require(uploads(actions).first)
        let plan = try #require(commits(machine.uploaded(buffer.sequence, object: object(buffer), now: start)).first)
        let done = machine.committed(plan.sequence, outcomes: [.fenced(leader: 2, leaderEpoch: 4)])
        let failure = try #require(failures(done).first)
        #expect(failure.appends.map(\.offsets) == [a.offsets])
        #expect(failure.error.code == .notLeader && failure.error.leader == 2)
        #expect(done.contains { if case .leaderMoved(let partition, 2) = $0 { partition == p0 } else { false } })
        #expect(machine.leaderEpoch(p0) == nil && machine.leaderEpoch(p1) == 3)
        #expect(throws: StorageError.self) { try machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start) }
    }

    @Test func resigningFailsWhatIsStillOpenAndFreesItsRoom() throws {
        var machine = machine()
        let (a, _) = try appended(machine.stage(p0, batches: records(2), headers: headers(records(2)), now: start))
        let (b, _) = try appended(machine.stage(p1, batches: records(2), headers: headers(records(2)), now: start))
        let before = machine.unuploadedBytes
        let actions = machine.resign(p0, leader: 5)
        #expect(failures(actions).flatMap { $0.appends.map(\.offsets) } == [a.offsets])
        #expect(machine.unuploadedBytes == before / 2)
        let buffer = try #require(uploads(machine.tick(now: start + .seconds(1))).first)
        #expect(buffer.ranges.map(\.partition) == [p1] && buffer.ranges[0].waiters.map(\.offsets) == [b.offsets])
        // Leading again continues where the index says.
        machine.lead(p0, epoch: 4, nextOffset: 10, producers: ProducerStateTable(), linger: nil)
        let (again, _) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        #expect(again.offsets.baseOffset == 10)
    }

    @Test func anAbandonedUploadGivesUpItsCommitTurn() throws {
        var machine = machine { $0.maxBufferBytes = 1 }
        let one = try #require(uploads(appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start)).1).first)
        let two = try #require(uploads(appended(machine.stage(p1, batches: records(1), headers: headers(records(1)), now: start)).1).first)
        #expect(commits(machine.uploaded(two.sequence, object: object(two), now: start)).isEmpty)
        let abandoned = machine.uploadFailed(one.sequence)
        #expect(failures(abandoned).first?.error.code == .shuttingDown)
        #expect(commits(abandoned).map(\.sequence) == [two.sequence])
    }

    /// Room comes back at the commit, not at the upload: with the controller away, uploaded
    /// buffers must not pile up in memory (issue 11, finding 8).
    @Test func appendsWaitForRoomUntilCommitsFreeIt() throws {
        let big = records(6)
        var machine = machine { $0.maxUncommittedBytes = big.readableBytes * 3 / 2; $0.maxBufferBytes = 1 }
        let (_, actions) = try appended(machine.stage(p0, batches: big, headers: headers(big), now: start))
        let buffer = try #require(uploads(actions).first)
        guard case .needsRoom = try machine.stage(p1, batches: big, headers: headers(big), now: start) else {
            Issue.record("expected to wait for room")
            return
        }
        #expect(!machine.hasRoom(for: big.readableBytes))
        let plan = try #require(commits(machine.uploaded(buffer.sequence, object: object(buffer), now: start)).first)
        #expect(!machine.hasRoom(for: big.readableBytes), "room freed before the commit")
        let freed = machine.committed(plan.sequence, outcomes: [.accepted])
        #expect(freed.contains { if case .roomFreed = $0 { true } else { false } })
        #expect(machine.hasRoom(for: big.readableBytes))
        _ = try appended(machine.stage(p1, batches: big, headers: headers(big), afterWaiting: true, now: start))
    }

    @Test func idempotentRetriesShareTheOriginalAndGapsAreRefused() throws {
        var machine = machine()
        let first = idempotent(sequence: 0, records: 2)
        let (original, _) = try appended(machine.stage(p0, batches: first, headers: headers(first), now: start))
        guard case .duplicate(let retry) = try machine.stage(p0, batches: first, headers: headers(first), now: start) else {
            Issue.record("a retried batch must not be appended again")
            return
        }
        #expect(retry === original)
        let gap = idempotent(sequence: 5, records: 1)
        #expect(throws: StorageError.self) { try machine.stage(p0, batches: gap, headers: headers(gap), now: start) }
        let next = idempotent(sequence: 2, records: 1)
        let (following, _) = try appended(machine.stage(p0, batches: next, headers: headers(next), now: start))
        #expect(following.offsets.baseOffset == original.offsets.lastOffset + 1)
    }

    @Test func shutdownSealsWhatIsOpenAndRefusesMore() throws {
        var machine = machine()
        _ = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let buffer = try #require(uploads(machine.shutdown()).first)
        #expect(!machine.isDrained)
        #expect(throws: StorageError.self) { try machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start) }
        let plan = try #require(commits(machine.uploaded(buffer.sequence, object: object(buffer), now: start)).first)
        _ = machine.committed(plan.sequence, outcomes: [.accepted])
        #expect(machine.isDrained)
    }

    /// A stop whose drain ran out of time (the controller gone): whatever is uploading,
    /// committing or still open fails, unacknowledged; a commit answered afterwards acknowledges nothing.
    @Test func abandoningFailsEveryAppendNotYetCommitted() throws {
        var machine = machine { $0.maxConcurrentUploads = 4 }
        let (first, sealing) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let firstBuffer = try #require(uploads(sealing + machine.tick(now: start + .seconds(1))).first)
        let plan = try #require(commits(machine.uploaded(firstBuffer.sequence, object: object(firstBuffer), now: start + .seconds(1))).first)
        let (second, _) = try appended(machine.stage(p1, batches: records(2), headers: headers(records(2)), now: start + .seconds(1)))
        _ = machine.shutdown()
        #expect(!machine.isDrained)
        let abandoned = machine.abandon()
        #expect(machine.isDrained && machine.unuploadedBytes == 0 && machine.uploadsInFlight == 0)
        let failed = failures(abandoned).flatMap(\.appends)
        #expect(Set(failed.map(\.offsets)) == [first.offsets, second.offsets])
        #expect(failures(abandoned).allSatisfy { $0.error.code == .shuttingDown })
        #expect(succeeded(machine.committed(plan.sequence, outcomes: [.accepted])).isEmpty)
    }

    @Test func pointersIntoRouterObjectsGetOffsetsAndCommitWithoutAnUpload() throws {
        var machine = machine()
        let location = WritePathStateMachine.RemoteLocation(objectKey: "router/n2/x", objectSize: 500, position: 40, length: 200)
        let sent = records(4)
        let (pointer, actions) = try appended(machine.stageRemote(p0, at: location, headers: headers(sent), now: start))
        #expect(pointer.offsets == AppendResult(baseOffset: 10, lastOffset: 13))
        // Nothing to upload: the commit goes out at once, pointing into the router object.
        #expect(uploads(actions).isEmpty)
        let plan = try #require(commits(actions).first)
        #expect(plan.request.objectKey.isEmpty && plan.request.routerObjects == [.init(key: "router/n2/x", size: 500)])
        #expect(plan.request.ranges.map(\.segment) == [Segment(baseOffset: 10, endOffset: 14, objectKey: "router/n2/x", position: 40, length: 200, maxTimestamp: 1_700_000_000_000)])
        let done = machine.committed(plan.sequence, outcomes: [.accepted])
        #expect(succeeded(done).map(\.offsets) == [pointer.offsets])
        #expect(done.contains { if case .committed(_, _, nil) = $0 { true } else { false } }, "no bytes held for a pointer")

        // A local append and a pointer in one buffer: one WAL object for the local bytes, one
        // commit for both, in offset order.
        let (local, _) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let (remote, _) = try appended(machine.stageRemote(p0, at: location, headers: headers(sent), now: start))
        let (after, _) = try appended(machine.stage(p0, batches: records(2), headers: headers(records(2)), now: start))
        #expect([local, remote, after].map(\.offsets.baseOffset) == [14, 15, 19])
        let buffer = try #require(uploads(machine.tick(now: start + .seconds(1))).first)
        #expect(buffer.localRanges.map { $0.baseOffset..<$0.endOffset } == [14..<15, 19..<21])
        let mixed = try #require(commits(machine.uploaded(buffer.sequence, object: object(buffer), now: start)).first)
        #expect(mixed.request.ranges.map(\.segment.baseOffset) == [14, 15, 19])
        #expect(mixed.request.ranges.map(\.segment.objectKey) == [mixed.request.objectKey, "router/n2/x", mixed.request.objectKey])
        #expect(CommitRules.malformedRange(in: mixed.request) == nil)
    }

    @Test func pointersArrivingDuringACommitShareTheNextOne() throws {
        var machine = machine()
        let location = WritePathStateMachine.RemoteLocation(objectKey: "router/n2/x", objectSize: 500, position: 0, length: 100)
        let (_, first) = try appended(machine.stageRemote(p0, at: location, headers: headers(records(1)), now: start))
        let plan = try #require(commits(first).first)
        // While that commit is out, more pointers gather instead of each taking a commit.
        for _ in 0..<5 {
            let (_, actions) = try appended(machine.stageRemote(p1, at: location, headers: headers(records(1)), now: start))
            #expect(commits(actions).isEmpty)
        }
        let next = try #require(commits(machine.committed(plan.sequence, outcomes: [.accepted])).first)
        #expect(next.request.ranges.map(\.segment.baseOffset) == [0, 1, 2, 3, 4])
    }

    @Test func aRetriedPointerOfAnIdempotentProducerGetsTheOriginalOffsets() throws {
        var machine = machine()
        let location = WritePathStateMachine.RemoteLocation(objectKey: "router/n2/x", objectSize: 500, position: 0, length: 100)
        let first = idempotent(sequence: 0, records: 3)
        let (original, _) = try appended(machine.stageRemote(p1, at: location, headers: headers(first), now: start))
        guard case .duplicate(let retry) = try machine.stageRemote(p1, at: location, headers: headers(first), now: start) else {
            Issue.record("a retried pointer must not be appended again")
            return
        }
        #expect(retry === original)
        #expect(throws: StorageError.self) { try machine.stageRemote(p1, at: location, headers: headers(idempotent(sequence: 9, records: 1)), now: start) }
    }

    /// Two agents' write paths against one index that applies ``CommitRules``, with appends,
    /// seals, uploads finishing in any order or failing, commits, leadership moves and crashes in
    /// random order: the committed log stays whole, every acknowledged append is in it exactly
    /// where it was told, and nothing is both acknowledged and refused.
    @Test(arguments: 0..<40) func randomInterleavingsAcknowledgeOnlyWhatIsCommitted(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        var index = ModelIndex()
        let partitions = [p0, p1]
        var agents = [1, 2].map { Agent(id: $0) }
        var now = start
        var acknowledged: [PartitionKey: [Range<Int64>]] = [:]
        // The base offsets of the batches each uploaded range holds, by object, partition and base.
        var stored: [String: [Int64]] = [:]

        func settle(_ agent: Int, _ actions: [WritePathStateMachine.Action]) {
            for action in actions {
                switch action {
                case .upload(let buffer): agents[agent].uploading.append(buffer)
                case .commit(let plan): agents[agent].committing.append(plan)
                case .succeed(let appends):
                    for append in appends {
                        #expect(agents[agent].outstanding.removeValue(forKey: ObjectIdentifier(append)) != nil, "answered twice, seed \(seed)")
                    }
                    for append in appends {
                        let key = agents[agent].partitionOf[ObjectIdentifier(append)]!
                        acknowledged[key, default: []].append(append.offsets.baseOffset..<(append.offsets.lastOffset + 1))
                    }
                case .fail(let appends, _):
                    for append in appends {
                        #expect(agents[agent].outstanding.removeValue(forKey: ObjectIdentifier(append)) != nil, "answered twice, seed \(seed)")
                    }
                case .committed, .wakeUp, .roomFreed, .leaderMoved: break
                }
            }
        }

        for partition in partitions { index.partitions[partition] = .init(leader: 1, leaderEpoch: 1, nextOffset: 0) }
        for partition in partitions { agents[0].machine.lead(partition, epoch: 1, nextOffset: 0, producers: ProducerStateTable(), linger: nil) }

        for _ in 0..<400 {
            now += .milliseconds(Int(random.next() % 40))
            let a = Int(random.next() % 2)
            let partition = partitions[Int(random.next() % 2)]
            switch random.next() % 9 {
            case 0, 1:  // a producer appends
                let bytes = records(1 + Int(random.next() % 4))
                guard let staged = try? agents[a].machine.stage(partition, batches: bytes, headers: headers(bytes), afterWaiting: true, now: now),
                    case .appended(let append, let actions) = staged
                else { continue }
                agents[a].outstanding[ObjectIdentifier(append)] = append
                agents[a].partitionOf[ObjectIdentifier(append)] = partition
                settle(a, actions)
            case 2:  // time passes
                settle(a, agents[a].machine.tick(now: now))
            case 3:  // an upload finishes (any of those in flight)
                guard !agents[a].uploading.isEmpty else { continue }
                let buffer = agents[a].uploading.remove(at: Int(random.next() % UInt64(agents[a].uploading.count)))
                let uploaded = object(buffer)
                for range in buffer.ranges {
                    let bases = headers(range.batches).map(\.baseOffset)
                    #expect(bases.first == range.baseOffset, "seed \(seed)")
                    stored["\(uploaded.key)#\(range.partition)#\(range.baseOffset)"] = bases
                }
                settle(a, agents[a].machine.uploaded(buffer.sequence, object: uploaded, now: now))
            case 4:  // the index answers the commit in flight
                guard !agents[a].committing.isEmpty else { continue }
                let plan = agents[a].committing.removeFirst()
                settle(a, agents[a].machine.committed(plan.sequence, outcomes: index.commit(plan.request)))
            case 5:  // now and then, leadership moves to the other agent, which learns it from the topology
                guard random.next() % 3 == 0 else { continue }
                let current = index.partitions[partition]!
                let next = current.leader == 1 ? 2 : 1
                index.partitions[partition] = .init(leader: next, leaderEpoch: current.leaderEpoch + 1, nextOffset: current.nextOffset)
                let b = next - 1
                settle(b, agents[b].machine.resign(partition))
                agents[b].machine.lead(partition, epoch: current.leaderEpoch + 1, nextOffset: current.nextOffset, producers: ProducerStateTable(), linger: nil)
            case 6:  // the old leader learns it lost the partition
                if index.partitions[partition]!.leader != agents[a].id { settle(a, agents[a].machine.resign(partition)) }
            case 7:  // rarely, an upload gives up (the agent is going down)
                guard !agents[a].uploading.isEmpty, random.next() % 4 == 0 else { continue }
                let buffer = agents[a].uploading.removeFirst()
                settle(a, agents[a].machine.uploadFailed(buffer.sequence))
            default:  // rarely, a crash: everything in memory is gone, nobody was answered
                guard random.next() % 4 == 0 else { continue }
                agents[a] = Agent(id: agents[a].id)
                for partition in partitions where index.partitions[partition]!.leader == agents[a].id {
                    let view = index.partitions[partition]!
                    agents[a].machine.lead(partition, epoch: view.leaderEpoch, nextOffset: view.nextOffset, producers: ProducerStateTable(), linger: nil)
                }
            }
            // The committed log of every partition is contiguous from zero…
            for partition in partitions {
                var expected: Int64 = 0
                for segment in index.segments[partition, default: []] {
                    #expect(segment.baseOffset == expected, "gap or overlap in \(partition) at \(segment.baseOffset), seed \(seed)")
                    expected = segment.endOffset
                }
                #expect(expected == index.partitions[partition]!.nextOffset, "seed \(seed)")
            }
        }
        // …and every acknowledged append lies inside it, no two on the same offsets, and the
        // stored batches there carry exactly those offsets.
        var total = 0
        for partition in partitions {
            let ranges = acknowledged[partition, default: []].sorted { $0.lowerBound < $1.lowerBound }
            total += ranges.count
            for (first, second) in zip(ranges, ranges.dropFirst()) {
                #expect(first.upperBound <= second.lowerBound, "two acknowledged appends share offsets in \(partition), seed \(seed)")
            }
            for range in ranges {
                let holding = index.segments[partition, default: []].first { $0.baseOffset <= range.lowerBound && range.upperBound <= $0.endOffset }
                #expect(holding != nil, "acknowledged \(range) of \(partition) is not in the committed log, seed \(seed)")
                if let holding {
                    let bases = stored["\(holding.objectKey)#\(partition)#\(holding.baseOffset)"] ?? []
                    #expect(bases.contains(range.lowerBound), "no stored batch starts at acknowledged \(range.lowerBound) in \(holding), bases \(bases), seed \(seed)")
                }
            }
        }
        #expect(total > 0, "the run acknowledged nothing, seed \(seed)")
    }

    // MARK: Helpers

    struct Agent {
        var id: Int
        var machine: WritePathStateMachine
        var uploading: [WritePathStateMachine.SealedBuffer] = []
        var committing: [WritePathStateMachine.CommitPlan] = []
        var outstanding: [ObjectIdentifier: PendingAppend] = [:]
        var partitionOf: [ObjectIdentifier: PartitionKey] = [:]

        init(id: Int) {
            self.id = id
            machine = WritePathStateMachine(nodeID: id, configuration: .init(maxBufferBytes: 400, linger: .milliseconds(30), maxConcurrentUploads: 3))
        }
    }

    /// The partition index as a value: ``CommitRules`` over a dictionary. Objects are kept so
    /// the test can look at the batches a range points to.
    struct ModelIndex {
        var partitions: [PartitionKey: CommitRules.PartitionView] = [:]
        var segments: [PartitionKey: [Segment]] = [:]

        mutating func commit(_ request: CommitRequest) -> [CommitResponse.Outcome] {
            request.ranges.map { range in
                let outcome = CommitRules.outcome(of: range, from: request.nodeID, partition: partitions[range.partition])
                if outcome == .accepted {
                    partitions[range.partition]!.nextOffset = range.segment.endOffset
                    segments[range.partition, default: []].append(range.segment)
                }
                return outcome
            }
        }
    }

    func object(_ buffer: WritePathStateMachine.SealedBuffer) -> WritePathStateMachine.UploadedObject {
        var position = 0
        var placements: [WritePathStateMachine.UploadedObject.Placement] = []
        let key = "wal/n\(UUID().uuidString)"
        for range in buffer.localRanges {
            placements.append(.init(position: position, length: range.batches.readableBytes))
            position += range.batches.readableBytes
        }
        return .init(key: key, size: position, placements: placements)
    }
}

private func records(_ count: Int) -> ByteBuffer {
    RecordBatchBuilder.batch((0..<count).map { Record(value: Array("v\($0)".utf8), timestamp: 1_700_000_000_000) })
}

private func idempotent(sequence: Int32, records: Int) -> ByteBuffer {
    RecordBatchBuilder.batch(
        (0..<records).map { Record(value: Array("s\(Int(sequence) + $0)".utf8), timestamp: 1_700_000_000_000) },
        producerID: 7, producerEpoch: 0, baseSequence: sequence
    )
}

private func headers(_ bytes: ByteBuffer) -> [RecordBatchHeader] {
    (try? RecordBatchHeader.validateBatches(bytes)) ?? []
}

private func appended(_ staged: WritePathStateMachine.Staged) throws -> (PendingAppend, [WritePathStateMachine.Action]) {
    guard case .appended(let append, let actions) = staged else {
        throw StorageError(.corrupt, "expected the append to be taken, got \(staged)")
    }
    return (append, actions)
}

private func uploads(_ actions: [WritePathStateMachine.Action]) -> [WritePathStateMachine.SealedBuffer] {
    actions.compactMap { if case .upload(let buffer) = $0 { buffer } else { nil } }
}

private func commits(_ actions: [WritePathStateMachine.Action]) -> [WritePathStateMachine.CommitPlan] {
    actions.compactMap { if case .commit(let plan) = $0 { plan } else { nil } }
}

private func wakeUps(_ actions: [WritePathStateMachine.Action]) -> [ContinuousClock.Instant] {
    actions.compactMap { if case .wakeUp(let at) = $0 { at } else { nil } }
}

private func succeeded(_ actions: [WritePathStateMachine.Action]) -> [PendingAppend] {
    actions.flatMap { action -> [PendingAppend] in
        guard case .succeed(let appends) = action else { return [] }
        return appends
    }
}

private func failures(_ actions: [WritePathStateMachine.Action]) -> [(appends: [PendingAppend], error: StorageError)] {
    actions.compactMap { if case .fail(let appends, let error) = $0 { (appends, error) } else { nil } }
}

private func committedSegments(_ actions: [WritePathStateMachine.Action]) -> [Segment] {
    actions.compactMap { if case .committed(_, let segment, _) = $0 { segment } else { nil } }
}

/// Adaptive sealing (issue 14): with a PUT budget a lone append is uploaded at once, appends made
/// while an upload is in flight wait for it (group commit) or for their linger, and the budget
/// holds early seals back once it is spent.
extension WritePathStateMachineTests {
    @Test func withABudgetALoneAppendIsUploadedAtOnceAndOthersGatherBehindIt() throws {
        var machine = machine { $0.linger = .milliseconds(250); $0.maxPutsPerSecond = 100 }
        let (_, firstActions) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        let first = try #require(uploads(firstActions).first, "nothing in flight and budget left: sealed at once, not after 250 ms")
        // While it uploads, appends gather; their linger is the only timer.
        var gathered: [WritePathStateMachine.Action] = []
        for index in 0..<3 {
            gathered += try appended(machine.stage(p1, batches: records(1), headers: headers(records(1)), now: start + .milliseconds(index))).1
        }
        #expect(uploads(gathered).isEmpty && wakeUps(gathered) == [start + .milliseconds(250)])
        // The upload lands: the gathered appends go in one object.
        let next = uploads(machine.uploaded(first.sequence, object: object(first), now: start + .milliseconds(7)))
        #expect(next.count == 1 && next[0].ranges.map { $0.endOffset - $0.baseOffset } == [3])
    }

    @Test func aSpentBudgetHoldsEarlySealsUntilTheNextToken() throws {
        var machine = machine { $0.linger = .milliseconds(250); $0.maxPutsPerSecond = 2 }
        var now = start
        // Two tokens: two lone appends, each uploaded at once once the previous one landed.
        for _ in 0..<2 {
            let buffer = try #require(uploads(appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: now)).1).first)
            _ = machine.uploaded(buffer.sequence, object: object(buffer), now: now)
            now += .milliseconds(1)
        }
        // The third waits for the next token (half a second at 2/s, less what has refilled) —
        // but never beyond its linger, the upper bound.
        let (_, third) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: now))
        #expect(uploads(third).isEmpty)
        let wake = try #require(wakeUps(third).first)
        #expect(wake == now + .milliseconds(250), "the linger comes before the token: \(wake - now)")
        #expect(uploads(machine.tick(now: wake)).count == 1)
    }

    @Test func withoutABudgetABufferWaitsForItsLingerAsBefore() throws {
        var machine = machine { $0.linger = .milliseconds(100) }
        let (_, actions) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        #expect(uploads(actions).isEmpty && wakeUps(actions) == [start + .milliseconds(100)])
    }

    @Test func theBudgetCanChangeWhileLeading() throws {
        var machine = machine { $0.linger = .milliseconds(100) }
        machine.setPutBudget(50)
        let (_, actions) = try appended(machine.stage(p0, batches: records(1), headers: headers(records(1)), now: start))
        #expect(uploads(actions).count == 1)
    }
}
