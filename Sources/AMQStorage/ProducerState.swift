import AMQKafkaProtocol
import NIOCore

/// Idempotent-producer bookkeeping for one partition (KIP-98): per producer id, its epoch and the
/// sequence ranges and offsets of its last five batches — the most a producer may have in flight —
/// so a retried batch is recognised and answered with its original offsets, and a gap is refused.
///
/// Pure: the storage engine owns one per partition it leads and rebuilds it from the log's tail
/// when it takes leadership, so the checks survive a move or a restart.
package struct ProducerStateTable: Sendable {
    package struct BatchMetadata: Sendable, Equatable {
        package var firstSequence: Int32
        package var lastSequence: Int32
        package var baseOffset: Int64
        package var lastOffset: Int64
        /// The append still on its way to a commit, so a retry arriving meanwhile shares its fate.
        package var pending: PendingAppend?

        package init(firstSequence: Int32, lastSequence: Int32, baseOffset: Int64, lastOffset: Int64, pending: PendingAppend? = nil) {
            self.firstSequence = firstSequence
            self.lastSequence = lastSequence
            self.baseOffset = baseOffset
            self.lastOffset = lastOffset
            self.pending = pending
        }

        package static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.firstSequence == rhs.firstSequence && lhs.lastSequence == rhs.lastSequence
                && lhs.baseOffset == rhs.baseOffset && lhs.lastOffset == rhs.lastOffset
        }
    }

    package enum Decision: Sendable, Equatable {
        /// A new batch, next in sequence (or from a producer we hold no state for).
        case append
        /// A retry of a batch already appended: answer with its offsets, store nothing.
        case duplicate(BatchMetadata)
    }

    package enum Rejection: Error, Sendable, Equatable {
        /// Not the next sequence: a batch in between was lost (OUT_OF_ORDER_SEQUENCE_NUMBER).
        case outOfOrderSequence(expected: Int32, received: Int32)
        /// An older epoch of a producer that has since been re-initialised (INVALID_PRODUCER_EPOCH).
        case staleEpoch(current: Int16, received: Int16)
    }

    private struct Entry: Sendable {
        var epoch: Int16
        /// Oldest first, at most `retainedBatches`.
        var batches: [BatchMetadata]
    }

    /// Kafka's `max.in.flight.requests.per.connection` bound for idempotent producers.
    package static let retainedBatches = 5

    private var producers: [Int64: Entry] = [:]

    package init() {}

    package var producerCount: Int { producers.count }

    /// The sequence after `sequence` (they wrap at Int32.max, as Kafka's do).
    package static func next(_ sequence: Int32) -> Int32 {
        sequence == .max ? 0 : sequence + 1
    }

    /// The last sequence of a batch starting at `first` holding `count` records.
    package static func last(first: Int32, count: Int32) -> Int32 {
        Int32(truncatingIfNeeded: (Int64(first) + Int64(count) - 1) % (Int64(Int32.max) + 1))
    }

    /// What to do with a batch of `producerID`, judged against what is recorded.
    package func check(producerID: Int64, epoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Result<Decision, Rejection> {
        guard let entry = producers[producerID] else {
            // Unknown producer (new, or its state aged out of the tail we rebuilt from): Kafka
            // accepts any sequence here too.
            return .success(.append)
        }
        if epoch < entry.epoch { return .failure(.staleEpoch(current: entry.epoch, received: epoch)) }
        if epoch > entry.epoch {
            // A bumped epoch starts its sequences again from zero.
            return firstSequence == 0 ? .success(.append) : .failure(.outOfOrderSequence(expected: 0, received: firstSequence))
        }
        if let original = entry.batches.first(where: { $0.firstSequence == firstSequence && $0.lastSequence == lastSequence }) {
            return .success(.duplicate(original))
        }
        guard let newest = entry.batches.last else { return .success(.append) }
        let expected = Self.next(newest.lastSequence)
        return firstSequence == expected ? .success(.append) : .failure(.outOfOrderSequence(expected: expected, received: firstSequence))
    }

    /// Records an appended batch.
    package mutating func record(producerID: Int64, epoch: Int16, _ batch: BatchMetadata) {
        var entry = producers[producerID] ?? Entry(epoch: epoch, batches: [])
        if epoch != entry.epoch {
            entry = Entry(epoch: epoch, batches: [])
        }
        entry.batches.append(batch)
        if entry.batches.count > Self.retainedBatches { entry.batches.removeFirst(entry.batches.count - Self.retainedBatches) }
        producers[producerID] = entry
    }

    /// Records every idempotent batch in `bytes` (whole stored batches, in offset order).
    package mutating func rebuild(from bytes: ByteBuffer) {
        var index = bytes.readerIndex
        while let header = RecordBatchHeader(bytes, at: index), index + header.totalSize <= bytes.writerIndex {
            index += header.totalSize
            guard header.producerID >= 0, header.baseSequence >= 0 else { continue }
            record(
                producerID: header.producerID, epoch: header.producerEpoch,
                BatchMetadata(
                    firstSequence: header.baseSequence,
                    lastSequence: Self.last(first: header.baseSequence, count: header.lastOffsetDelta + 1),
                    baseOffset: header.baseOffset, lastOffset: header.lastOffset
                )
            )
        }
    }
}
