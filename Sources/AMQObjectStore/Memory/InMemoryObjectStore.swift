import Foundation
import NIOCore

/// An object store in memory with fault injection, for tests of what sits above a store: latency
/// on every call, a burst of `unavailable` failures (what S3's 503 SlowDown looks like after our
/// client's retries), failures of chosen operations, and counts of calls per operation.
package actor InMemoryObjectStore: ObjectStore {
    package enum Operation: String, Sendable, CaseIterable {
        case put, get, head, list, delete
    }

    /// What goes wrong, and how slowly.
    package struct Faults: Sendable {
        /// Added to every call before it does anything.
        package var latency: Duration = .zero
        /// The next this many calls fail with `unavailable`, whatever they are.
        package var unavailableCalls = 0
        /// Calls of these operations fail with `unavailable` until the faults change.
        package var failing: Set<Operation> = []

        package init(latency: Duration = .zero, unavailableCalls: Int = 0, failing: Set<Operation> = []) {
            self.latency = latency
            self.unavailableCalls = unavailableCalls
            self.failing = failing
        }
    }

    private struct Stored {
        var body: ByteBuffer
        var etag: String
        var modified: Date
    }

    package nonisolated let name: String
    private var objects: [String: Stored] = [:]
    private var faults = Faults()
    private var counts: [Operation: Int] = [:]
    private var generation = 0

    package init(name: String = "test") {
        self.name = name
    }

    package nonisolated var description: String { "memory://\(name)" }

    /// Replaces the fault plan; `Faults()` heals the store.
    package func setFaults(_ faults: Faults) {
        self.faults = faults
    }

    /// How many calls of `operation` reached the store (failed ones included).
    package func count(_ operation: Operation) -> Int {
        counts[operation, default: 0]
    }

    /// Bytes held, for memory checks.
    package var storedBytes: Int { objects.values.reduce(0) { $0 + $1.body.readableBytes } }

    // MARK: ObjectStore

    @discardableResult
    package func put(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        try await enter(.put, key: key)
        if ifAbsent, objects[key] != nil {
            throw ObjectStoreError(.alreadyExists, "object \(key) already exists in \(description)", key: key)
        }
        generation += 1
        let stored = Stored(body: body, etag: String(generation, radix: 16), modified: Date())
        objects[key] = stored
        return ObjectInfo(key: key, size: body.readableBytes, etag: stored.etag, lastModified: stored.modified)
    }

    package func get(_ key: String, range: Range<Int>?) async throws -> ByteBuffer {
        try ObjectKey.validate(key)
        try await enter(.get, key: key)
        guard let stored = objects[key] else { throw ObjectStoreError(.notFound, "no object \(key) in \(description)", key: key) }
        let wanted = try LocalDirectoryStore.clip(range, size: stored.body.readableBytes, key: key, store: description)
        return stored.body.getSlice(at: stored.body.readerIndex + wanted.lowerBound, length: wanted.count)!
    }

    package func head(_ key: String) async throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        try await enter(.head, key: key)
        return objects[key].map { ObjectInfo(key: key, size: $0.body.readableBytes, etag: $0.etag, lastModified: $0.modified) }
    }

    package func list(prefix: String, continuation: String?, limit: Int) async throws -> ObjectListing {
        try await enter(.list, key: nil)
        let keys = objects.keys
            .filter { $0.hasPrefix(prefix) && ObjectKey.isAfter($0, continuation) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let page = keys.prefix(max(limit, 1))
        let objects = page.map { key in
            let stored = self.objects[key]!
            return ObjectInfo(key: key, size: stored.body.readableBytes, etag: stored.etag, lastModified: stored.modified)
        }
        return ObjectListing(objects: objects, continuation: keys.count > page.count ? page.last : nil)
    }

    package func delete(_ keys: [String]) async throws {
        for key in keys { try ObjectKey.validate(key) }
        try await enter(.delete, key: keys.first)
        for key in keys { objects[key] = nil }
    }

    // MARK: Faults

    private func enter(_ operation: Operation, key: String?) async throws {
        counts[operation, default: 0] += 1
        if faults.latency > .zero { try await Task.sleep(for: faults.latency) }
        if faults.unavailableCalls > 0 {
            faults.unavailableCalls -= 1
            throw ObjectStoreError(.unavailable, "\(description) is unavailable (injected fault) during \(operation.rawValue)", key: key)
        }
        if faults.failing.contains(operation) {
            throw ObjectStoreError(.unavailable, "\(description) is unavailable (injected fault) during \(operation.rawValue)", key: key)
        }
    }
}
