import AMQKafkaProtocol
import AMQStreamIndex
import DequeModule
import NIOCore

/// Recently committed batches, newest last, within a byte budget: most readers want the tail, and
/// it is served from here without a GET.
struct LogCache: Sendable {
    private struct Range: Sendable {
        var partition: PartitionKey
        var base: Int64
        var end: Int64
        var bytes: ByteBuffer
    }

    private(set) var capacity: Int
    private var ranges: Deque<Range> = []
    private(set) var bytes = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func add(_ partition: PartitionKey, base: Int64, end: Int64, batches: ByteBuffer) {
        ranges.append(Range(partition: partition, base: base, end: end, bytes: batches))
        bytes += batches.readableBytes
        evict()
    }

    /// A new capacity (the agent's memory budget changed); the oldest ranges go to fit it.
    mutating func resize(to capacity: Int) {
        self.capacity = capacity
        evict()
    }

    private mutating func evict() {
        while bytes > capacity, let oldest = ranges.popFirst() {
            bytes -= oldest.bytes.readableBytes
        }
    }

    /// Contiguous cached batches of `partition` from the one holding `offset`, below `end` (what
    /// is known to be committed: a proxy caches what it routed before its replica hears of the
    /// commit), up to about `maxBytes` (at least one batch); empty when the cache does not hold `offset`.
    func read(_ partition: PartitionKey, from offset: Int64, end: Int64, maxBytes: Int) -> ByteBuffer {
        var parts: [ByteBuffer] = []
        var taken = 0
        var next = offset
        while taken < maxBytes, next < end,
            let range = ranges.last(where: { $0.partition == partition && $0.base <= next && next < $0.end && $0.end <= end })
        {
            let room = maxBytes - taken
            let (part, complete) = StoredBatches.batches(from: range.bytes, offset: next, maxBytes: taken == 0 ? maxBytes : room)
            guard part.readableBytes > 0, taken == 0 || part.readableBytes <= room else { break }
            parts.append(part)
            taken += part.readableBytes
            // A range cut short by maxBytes ends the read: the next range would leave a gap.
            guard complete else { break }
            next = range.end
        }
        return ByteBuffer(joining: parts)
    }
}
