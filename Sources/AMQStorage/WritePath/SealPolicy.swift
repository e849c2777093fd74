/// When an open buffer (WAL or router) is sealed — group commit with a PUT budget (issue 14):
///
/// - at once when no upload is in flight and the budget allows a PUT: a lone produce waits for
///   one PUT, not for a linger;
/// - while uploads are in flight, appends accumulate until the buffer is full, its linger ends
///   (the upper bound, as before), or the last upload finishes and the budget allows the next PUT:
///   the busier the agent, the larger its objects;
/// - never beyond the uploads allowed at once.
///
/// The budget is a token bucket of `maxPutsPerSecond` (one second deep): early seals take a token
/// and wait for one; full and lingered buffers are sealed anyway (they take one when there is one),
/// so the PUT rate stays under the budget plus what size and linger force. Without a budget
/// (`nil`) only a zero linger seals early, as before. Otherwise the owner asks to be woken when
/// the linger ends or the next token comes; one wake-up per buffer is enough.
struct SealPolicy: Sendable {
    enum Decision: Equatable {
        case seal
        case wakeUp(at: ContinuousClock.Instant)
        case wait
    }

    let maxBufferBytes: Int
    let maxConcurrentUploads: Int
    /// Early seals per second; nil: none but with zero linger.
    private(set) var maxPutsPerSecond: Int?
    private var tokens: Double = 0
    private var refilled: ContinuousClock.Instant?
    /// The wake-up already asked for the open buffer.
    private var scheduled: ContinuousClock.Instant?

    init(maxBufferBytes: Int, maxConcurrentUploads: Int, maxPutsPerSecond: Int? = nil) {
        self.maxBufferBytes = maxBufferBytes
        self.maxConcurrentUploads = maxConcurrentUploads
        setBudget(maxPutsPerSecond)
    }

    /// A new budget (`wal.max.puts.per.second` changed); the bucket starts full.
    mutating func setBudget(_ perSecond: Int?) {
        maxPutsPerSecond = perSecond.map { max($0, 1) }
        tokens = Double(maxPutsPerSecond ?? 0)
        refilled = nil
    }

    private mutating func refill(_ now: ContinuousClock.Instant) {
        guard let rate = maxPutsPerSecond else { return }
        if let refilled { tokens = min(Double(rate), tokens + (now - refilled) / .seconds(1) * Double(rate)) }
        refilled = now
    }

    /// When the next token comes.
    private func nextToken(_ now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard let rate = maxPutsPerSecond, tokens < 1 else { return now }
        let seconds = (1 - tokens) / Double(rate)
        return now + .nanoseconds(Int64((seconds * 1e9).rounded(.up)))
    }

    mutating func decide(
        bytes: Int, opened: ContinuousClock.Instant, linger: Duration, uploadsInFlight: Int, now: ContinuousClock.Instant
    ) -> Decision {
        refill(now)
        // At the limit of uploads in flight the next one to finish decides again.
        guard uploadsInFlight < maxConcurrentUploads else { return .wait }
        let full = bytes >= maxBufferBytes
        let lingered = linger > .zero && now >= opened + linger
        let idle = uploadsInFlight == 0
        let early: Bool
        if maxPutsPerSecond != nil {
            early = idle && tokens >= 1
        } else {
            early = idle && linger == .zero
        }
        if full || lingered || early {
            scheduled = nil
            if maxPutsPerSecond != nil { tokens = max(0, tokens - 1) }
            return .seal
        }
        // Waiting for the linger or, when idle, for the next token.
        var due: ContinuousClock.Instant? = linger > .zero ? opened + linger : nil
        if idle, maxPutsPerSecond != nil {
            let token = nextToken(now)
            due = min(due ?? token, token)
        }
        // Nothing to wake for: the next finished upload decides.
        guard let due, due > now else { return .wait }
        if let scheduled, scheduled > now, scheduled <= due { return .wait }
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
