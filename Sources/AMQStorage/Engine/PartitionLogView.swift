import AMQStreamIndex

/// What the engine knows of a partition's committed log, for reads: its bounds, the segments it
/// has seen, and who leads it as far as the index said.
struct PartitionLogView: Sendable {
    var leaderHint: Int?
    /// The high watermark: everything below is committed.
    var committedEnd: Int64
    var logStart: Int64
    /// Known segments, ascending and contiguous where known.
    var segments: [Segment]

    init(log: PartitionLogState) {
        leaderHint = log.leader
        committedEnd = log.nextOffset
        logStart = log.logStartOffset
        segments = log.segments
    }

    /// A log known only by its bounds (a replica before its leader sent segments).
    init(committedEnd: Int64, logStart: Int64) {
        self.committedEnd = committedEnd
        self.logStart = logStart
        segments = []
    }

    /// The segment holding `offset` and those after it, while their sizes fit in `maxBytes`
    /// (the first always counts), at most `limit`, stopping at a gap in what is known.
    func segments(from offset: Int64, upTo maxBytes: Int, limit: Int) -> [Segment] {
        guard var index = index(containing: offset) else { return [] }
        let first = segments[index]
        var result = [first]
        var bytes = first.length
        while result.count < limit, index + 1 < segments.count {
            let next = segments[index + 1]
            guard next.baseOffset == result.last!.endOffset, bytes + next.length <= maxBytes else { break }
            result.append(next)
            bytes += next.length
            index += 1
        }
        return result
    }

    func segment(containing offset: Int64) -> Segment? {
        index(containing: offset).map { segments[$0] }
    }

    private func index(containing offset: Int64) -> Int? {
        var low = 0
        var high = segments.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let segment = segments[middle]
            if offset < segment.baseOffset { high = middle - 1 } else if offset >= segment.endOffset { low = middle + 1 } else { return middle }
        }
        return nil
    }

    /// A range this agent committed: the log grows when it continues what is known. At most
    /// `limit` segments stay known: older ones are paged from the index when read.
    mutating func append(_ segment: Segment, limit: Int) {
        guard segment.baseOffset == committedEnd else { return }
        committedEnd = segment.endOffset
        segments.append(segment)
        trim(to: limit)
    }

    /// Forgets the oldest known segments beyond `limit`, those in `window` (just fetched for a
    /// reader) last: the tail is what most readers want.
    mutating func trim(to limit: Int, keeping window: Range<Int64>? = nil) {
        guard segments.count > limit else { return }
        var excess = segments.count - limit
        segments.removeAll { segment in
            guard excess > 0 else { return false }
            if let window, segment.endOffset > window.lowerBound, segment.baseOffset < window.upperBound { return false }
            excess -= 1
            return true
        }
    }

    /// Takes the index's segments as the truth for the offsets they cover (compaction may have
    /// replaced several of ours by one) and drops what retention removed.
    mutating func merge(_ fetched: [Segment], limit: Int) {
        if let first = fetched.first, let last = fetched.last {
            segments.removeAll { $0.endOffset > first.baseOffset && $0.baseOffset < last.endOffset }
            segments += fetched
            segments.sort { $0.baseOffset < $1.baseOffset }
        }
        segments.removeAll { $0.endOffset <= logStart }
        trim(to: limit, keeping: fetched.first.map { $0.baseOffset..<fetched.last!.endOffset })
    }
}
