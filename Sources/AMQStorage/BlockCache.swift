import NIOCore

/// Object byte ranges read from the store, bounded in bytes, least recently used out first.
/// Concurrent reads of one range share one load: the first caller loads, the others wait for it.
package actor BlockCache {
    package struct Key: Hashable, Sendable {
        package var object: String
        package var position: Int
        package var length: Int

        package init(object: String, position: Int, length: Int) {
            self.object = object
            self.position = position
            self.length = length
        }
    }

    private struct Entry {
        var bytes: ByteBuffer
        var lastUsed: UInt64
    }

    package private(set) var capacity: Int
    private var entries: [Key: Entry] = [:]
    private var loading: [Key: [CheckedContinuation<ByteBuffer, any Error>]] = [:]
    private var clock: UInt64 = 0
    package private(set) var bytes = 0
    package private(set) var hits = 0
    package private(set) var misses = 0

    package init(capacity: Int) {
        self.capacity = capacity
    }

    /// The cached bytes of `key`, or what `load` returns (cached if it fits).
    package func get(_ key: Key, load: @Sendable () async throws -> ByteBuffer) async throws -> ByteBuffer {
        clock += 1
        if var entry = entries[key] {
            hits += 1
            entry.lastUsed = clock
            entries[key] = entry
            return entry.bytes
        }
        if loading[key] != nil {
            hits += 1
            return try await withCheckedThrowingContinuation { loading[key, default: []].append($0) }
        }
        misses += 1
        loading[key] = []
        do {
            let loaded = try await load()
            insert(key, loaded)
            for waiter in loading.removeValue(forKey: key) ?? [] { waiter.resume(returning: loaded) }
            return loaded
        } catch {
            for waiter in loading.removeValue(forKey: key) ?? [] { waiter.resume(throwing: error) }
            throw error
        }
    }

    /// Drops every range of `object` (deleted after compaction or retention).
    package func evict(object: String) {
        for key in entries.keys where key.object == object {
            bytes -= entries.removeValue(forKey: key)!.bytes.readableBytes
        }
    }

    /// A new capacity (the agent's memory budget changed); the least recently used go to fit it.
    package func resize(to capacity: Int) {
        self.capacity = capacity
        evict()
    }

    private func insert(_ key: Key, _ value: ByteBuffer) {
        guard value.readableBytes <= capacity else { return }
        entries[key] = Entry(bytes: value, lastUsed: clock)
        bytes += value.readableBytes
        evict()
    }

    private func evict() {
        while bytes > capacity, let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            bytes -= entries.removeValue(forKey: oldest)!.bytes.readableBytes
        }
    }
}
