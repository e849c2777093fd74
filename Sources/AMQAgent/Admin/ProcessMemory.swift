import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process's memory as the kernel counts it.
enum ProcessMemory {
    /// Resident set size in bytes (`/proc/self/statm`), or nil where there is none.
    static var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension ProcessMemory {
    /// Buffers of at least this size are mapped on their own and unmapped when freed.
    static let largeBufferBytes = 4 << 20

    /// Makes glibc give large buffers back to the system when they are freed. By default it
    /// raises its mmap threshold to the largest buffer freed so far (up to 32 MiB), after which
    /// the agent's 8-MiB objects come from the threads' arenas and their freed space stays
    /// resident: RSS climbed past 1 GiB with ~400 MiB live (docs/benchmarks.md). Setting the
    /// threshold fixes it. Smaller buffers (a batch, a request) stay in the arenas, where reuse
    /// is cheap: 1 MiB cost ~40 % of produce throughput in page faults.
    static func returnLargeBuffersToTheSystem() {
        #if canImport(Glibc)
        // <malloc.h> is not in the Glibc module: mallopt is looked up, M_MMAP_THRESHOLD is -3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, Int32(largeBufferBytes))
        #endif
    }

    /// How often freed memory inside the allocator's arenas is handed back (``trimmingFreedMemory()``).
    static let trimInterval: Duration = .seconds(2)

    /// Hands the free pages inside the allocator's arenas back to the system, every
    /// ``trimInterval`` until cancelled. Buffers below the mmap threshold (batches, requests,
    /// responses) come and go through the threads' arenas at hundreds of MB/s, and the holes they
    /// leave stay resident: ~120 MiB of an agent's ~420 at full produce and consume, given back by
    /// one `malloc_trim` (docs/benchmarks.md). Pages are faulted in again as the arenas reuse them.
    static func trimmingFreedMemory() async {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        let trim = unsafeBitCast(symbol, to: MallocTrim.self)
        while !Task.isCancelled {
            try? await Task.sleep(for: trimInterval)
            _ = trim(0)
        }
        #endif
    }
}
