/// An agent's memory for data (the cluster setting `agent.memory.bytes`), split among the parts
/// that hold it. Each part counts its bytes and keeps within its share: the WAL makes appends
/// wait, the router makes proxied produces wait, the caches evict. The eighth left over is
/// headroom for what is in flight and not counted — request frames being read, response frames
/// being written, the one copy a fetch spanning several cached ranges makes — and the rest of the
/// process sits outside the budget (docs/benchmarks.md measures the whole against it).
package struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    /// 384 MiB: an agent under full produce and consume stays under 512 MiB resident.
    package static let defaultBytes = 384 << 20
    /// Below this the WAL's share would not hold one buffer being filled and one uploading.
    package static let minimumBytes = 64 << 20

    package var total: Int

    package init(total: Int = MemoryBudget.defaultBytes) {
        self.total = total
    }

    /// Appended and not yet committed (WAL buffers, their uploads and commits).
    package var walBytes: Int { total / 8 * 3 }
    /// Produces this agent proxies for other zones' leaders, until the leaders answer.
    package var routerBytes: Int { total / 8 }
    /// Recently committed batches, for tail reads.
    package var logCacheBytes: Int { total / 8 }
    /// Objects and ranges read from the store, for reads behind the tail.
    package var blockCacheBytes: Int { total / 4 }

    /// The parts by the names `/metrics` gives them.
    package var parts: [(name: String, bytes: Int)] {
        [("wal", walBytes), ("router", routerBytes), ("log_cache", logCacheBytes), ("block_cache", blockCacheBytes)]
    }

    package var description: String {
        "\(total >> 20) MiB (WAL \(walBytes >> 20), router \(routerBytes >> 20), log cache \(logCacheBytes >> 20), block cache \(blockCacheBytes >> 20))"
    }
}
