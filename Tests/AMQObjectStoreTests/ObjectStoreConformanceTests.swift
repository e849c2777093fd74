import AMQTestSupport
import AMQObjectStore
import Foundation
import NIOCore
import Testing

/// The semantics every `ObjectStore` promises (see its documentation), checked on each
/// implementation: the local directory, memory, and S3 against two real servers.
@Suite(.timeLimit(.minutes(5))) struct ObjectStoreConformanceTests {
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case local, memory, seaweedfs, moto
        var testDescription: String { rawValue }
        /// Whether an `If-None-Match: *` put is checked and written atomically (see `racingPutIfAbsent`).
        var serializesConditionalWrites: Bool { self != .moto }
    }

    @Test(arguments: Kind.allCases) func conformance(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            for check in Self.checks {
                // A fresh prefix per check, so one check's leftovers cannot satisfy another.
                try await check.run(store, "c-\(UUID().uuidString.prefix(8))")
            }
        }
    }

    /// Conditional puts racing on one key: every writer either wins or learns the key exists, and
    /// the stored body is a winner's. Exactly one wins where the store makes check-and-write one
    /// step: AWS S3, SeaweedFS, our local directory (link(2)) and memory store. moto checks the key
    /// and then writes it without a lock, so two racing writers can both "win" there; that is
    /// moto's limit, not something a client can fix, and the engine never relies on it (WAL keys
    /// are unique per upload and fencing lives in the partition index).
    @Test(arguments: Kind.allCases) func racingPutIfAbsent(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            for round in 0..<3 {
                let key = "race-\(UUID().uuidString.prefix(8))/\(round)"
                let outcomes = await withTaskGroup(of: (Int, ObjectStoreError.Code?).self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            do {
                                try await store.put(key, body: ByteBuffer(string: "writer-\(writer)"), ifAbsent: true)
                                return (writer, nil)
                            } catch let error as ObjectStoreError {
                                return (writer, error.code)
                            } catch {
                                return (writer, .protocolFailure)
                            }
                        }
                    }
                    return await group.reduce(into: [(Int, ObjectStoreError.Code?)]()) { $0.append($1) }
                }
                let winners = outcomes.filter { $0.1 == nil }.map(\.0)
                let losers = outcomes.filter { $0.1 == .alreadyExists }.map(\.0)
                #expect(winners.count + losers.count == outcomes.count, "round \(round): \(outcomes)")
                if kind.serializesConditionalWrites {
                    #expect(winners.count == 1, "round \(round): \(outcomes)")
                } else {
                    #expect(!winners.isEmpty, "round \(round): \(outcomes)")
                }
                let stored = String(buffer: try await store.get(key))
                #expect(winners.map { "writer-\($0)" }.contains(stored), "round \(round): stored \(stored), winners \(winners)")
            }
        }
    }

    struct Check: Sendable {
        var name: String
        var run: @Sendable (any ObjectStore, String) async throws -> Void
    }

    static let checks: [Check] = [
        Check(name: "round trip") { store, p in
            let body = bytes(count: 100_000, seed: 1)
            let info = try await store.put("\(p)/a/object.bin", body: body)
            #expect(info.size == body.readableBytes)
            #expect(try await store.get("\(p)/a/object.bin") == body)
            let head = try #require(try await store.head("\(p)/a/object.bin"))
            #expect(head.size == body.readableBytes && head.key == "\(p)/a/object.bin")
        },
        Check(name: "empty object") { store, p in
            try await store.put("\(p)/empty", body: ByteBuffer())
            #expect(try await store.get("\(p)/empty").readableBytes == 0)
            #expect(try await store.head("\(p)/empty")?.size == 0)
            await expectError(.invalidRange) { _ = try await store.get("\(p)/empty", range: 0..<1) }
        },
        Check(name: "overwrite replaces whole") { store, p in
            let first = try await store.put("\(p)/k", body: bytes(count: 5000, seed: 2))
            let second = try await store.put("\(p)/k", body: bytes(count: 10, seed: 3))
            #expect(try await store.get("\(p)/k") == bytes(count: 10, seed: 3))
            #expect(try await store.head("\(p)/k")?.size == 10)
            #expect(first.etag != nil && first.etag != second.etag)
        },
        Check(name: "put if absent") { store, p in
            try await store.put("\(p)/once", body: ByteBuffer(string: "first"), ifAbsent: true)
            await expectError(.alreadyExists) { try await store.put("\(p)/once", body: ByteBuffer(string: "second"), ifAbsent: true) }
            #expect(try await store.get("\(p)/once") == ByteBuffer(string: "first"))
        },
        Check(name: "missing keys") { store, p in
            await expectError(.notFound) { _ = try await store.get("\(p)/missing") }
            await expectError(.notFound) { _ = try await store.get("\(p)/missing", range: 0..<10) }
            #expect(try await store.head("\(p)/missing") == nil)
            try await store.delete(["\(p)/missing"])
        },
        Check(name: "byte ranges") { store, p in
            let body = bytes(count: 1000, seed: 4)
            try await store.put("\(p)/r", body: body)
            #expect(try await store.get("\(p)/r", range: 0..<10) == body.getSlice(at: 0, length: 10))
            #expect(try await store.get("\(p)/r", range: 500..<700) == body.getSlice(at: 500, length: 200))
            // Past the end is clipped, as S3 does.
            #expect(try await store.get("\(p)/r", range: 990..<2000) == body.getSlice(at: 990, length: 10))
            #expect(try await store.get("\(p)/r", range: 999..<1000) == body.getSlice(at: 999, length: 1))
            await expectError(.invalidRange) { _ = try await store.get("\(p)/r", range: 1000..<1010) }
        },
        Check(name: "listing order, prefixes and pages") { store, p in
            let keys = ["\(p)/b/2", "\(p)/a/1", "\(p)/a/10", "\(p)/a/2", "\(p)/ab/1", "\(p)/c"]
            for key in keys { try await store.put(key, body: ByteBuffer(string: key)) }
            let all = try await store.listAll(prefix: "\(p)/", pageSize: 2).map(\.key)
            #expect(all == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            // A prefix need not end at a segment boundary.
            #expect(try await store.listAll(prefix: "\(p)/a").map(\.key) == ["\(p)/a/1", "\(p)/a/10", "\(p)/a/2", "\(p)/ab/1"])
            #expect(try await store.listAll(prefix: "\(p)/a/").map(\.key) == ["\(p)/a/1", "\(p)/a/10", "\(p)/a/2"])
            let first = try await store.list(prefix: "\(p)/", continuation: nil, limit: 4)
            #expect(first.objects.count == 4 && first.continuation != nil)
            let second = try await store.list(prefix: "\(p)/", continuation: first.continuation, limit: 4)
            #expect(second.objects.map(\.key) == Array(all.dropFirst(4)) && second.continuation == nil)
            #expect(try await store.listAll(prefix: "\(p)/zzz").isEmpty)
            let sized = try await store.listAll(prefix: "\(p)/c")
            #expect(sized.first?.size == "\(p)/c".utf8.count)
        },
        Check(name: "batch delete") { store, p in
            let keys = (0..<25).map { "\(p)/d/\($0)" }
            for key in keys { try await store.put(key, body: ByteBuffer(string: "x")) }
            try await store.delete(Array(keys.prefix(20)) + ["\(p)/d/not-there"])
            #expect(try await store.listAll(prefix: "\(p)/d/").map(\.key).sorted() == Array(keys.suffix(5)).sorted())
            try await store.delete(Array(keys.suffix(5)))
            #expect(try await store.listAll(prefix: "\(p)/").isEmpty)
        },
        Check(name: "keys with reserved characters") { store, p in
            let keys = ["\(p)/wal/0001-a=b+c,d@e~f_g.obj", "\(p)/odd/100%25 done", "\(p)/odd/semi;colon:and&amp"]
            for key in keys where (try? ObjectKey.validate(key)) != nil {
                try await store.put(key, body: ByteBuffer(string: key))
                #expect(try await store.get(key) == ByteBuffer(string: key), "\(key)")
                #expect(try await store.listAll(prefix: key).map(\.key) == [key])
            }
            try await store.delete(keys.filter { (try? ObjectKey.validate($0)) != nil })
        },
        Check(name: "concurrent writers") { store, p in
            try await withThrowingTaskGroup { group in
                for index in 0..<16 {
                    group.addTask { try await store.put("\(p)/par/\(index)", body: bytes(count: 20_000, seed: UInt64(index))) }
                }
                try await group.waitForAll()
            }
            for index in 0..<16 {
                #expect(try await store.get("\(p)/par/\(index)") == bytes(count: 20_000, seed: UInt64(index)))
            }
        },
        Check(name: "large object") { store, p in
            let body = bytes(count: 3 << 20, seed: 9)
            try await store.put("\(p)/large", body: body)
            #expect(try await store.get("\(p)/large") == body)
            #expect(try await store.get("\(p)/large", range: (1 << 20)..<((1 << 20) + 4096)) == body.getSlice(at: 1 << 20, length: 4096))
        },
        Check(name: "invalid keys are refused") { store, _ in
            for key in ["", "/abs", "a//b", "a/../b", ".hidden", "a/.x", "sp ace", "back\\slash"] {
                await expectError(.invalidConfiguration) { try await store.put(key, body: ByteBuffer(string: "x")) }
            }
        },
    ]
}

// MARK: - Helpers

/// Deterministic pseudo-random bytes.
func bytes(count: Int, seed: UInt64) -> ByteBuffer {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var buffer = ByteBufferAllocator().buffer(capacity: count)
    for _ in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        buffer.writeInteger(UInt8(truncatingIfNeeded: state))
    }
    return buffer
}

func expectError(_ code: ObjectStoreError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let error as ObjectStoreError {
        #expect(error.code == code, "expected \(code), got \(error.code): \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected ObjectStoreError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Runs `body` with a fresh, empty store of `kind`, removed afterwards.
func withStore(_ kind: ObjectStoreConformanceTests.Kind, _ body: (any ObjectStore) async throws -> Void) async throws {
    switch kind {
    case .local:
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("amq-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await body(try LocalDirectoryStore(root: root))
    case .memory:
        try await body(InMemoryObjectStore())
    case .seaweedfs, .moto:
        try await S3TestServer.with(kind == .moto ? .moto : .seaweedfs) { server in
            try await body(try await server.makeStore())
        }
    }
}
