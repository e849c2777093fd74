/// When an open buffer (WAL or router) is sealed: when full, when its linger has passed, or —
/// with zero linger — as soon as no upload is in flight (group commit), and never beyond the
/// uploads allowed at once. Otherwise the owner asks to be woken when the linger ends; one
/// wake-up per buffer is enough.
struct SealPolicy: Sendable {
    enum Decision: Equatable {
        case seal
        case wakeUp(at: ContinuousClock.Instant)
        case wait
    }

    let maxBufferBytes: Int
    let maxConcurrentUploads: Int
    /// The wake-up already asked for the open buffer.
    private var scheduled: ContinuousClock.Instant?

    init(maxBufferBytes: Int, maxConcurrentUploads: Int) {
        self.maxBufferBytes = maxBufferBytes
        self.maxConcurrentUploads = maxConcurrentUploads
    }

    mutating func decide(
        bytes: Int, opened: ContinuousClock.Instant, linger: Duration, uploadsInFlight: Int, now: ContinuousClock.Instant
    ) -> Decision {
        let full = bytes >= maxBufferBytes
        let lingered = linger > .zero && now >= opened + linger
        let idle = linger == .zero && uploadsInFlight == 0
        if (full || lingered || idle) && uploadsInFlight < maxConcurrentUploads {
            scheduled = nil
            return .seal
        }
        // Past its linger but held back by uploads in flight: the next upload to finish seals it
        // (a wake-up now would only spin).
        guard linger > .zero, opened + linger > now else { return .wait }
        let due = opened + linger
        if let scheduled, scheduled <= due { return .wait }
        scheduled = due
        return .wakeUp(at: due)
    }

    /// Time passed: a wake-up that is due is spent.
    mutating func passed(_ now: ContinuousClock.Instant) {
        if let scheduled, scheduled <= now { self.scheduled = nil }
    }

    /// Whether `size` more bytes fit under `limit` with `pending` not yet uploaded: always when
    /// nothing is pending, so one append larger than the bound still goes through.
    static func fits(_ size: Int, pending: Int, limit: Int) -> Bool {
        pending == 0 || pending + size <= limit
    }

    /// The open buffer went away without being sealed (emptied): its wake-up is void.
    mutating func discard() {
        scheduled = nil
    }
}
