import Foundation

/// When connections' packet headers (and, for kernel-counted connections, their bytes) are
/// sampled: on a fixed grid of the wall clock, a few milliseconds before each tick, so that every
/// minute boundary has a sample just before it and what crossed the wire before the boundary is
/// counted in the minute before it, as the kernel saw it.
package enum SampleTicks {
    /// Sleeps until `lead` before the next multiple of `period` since 1970.
    package static func sleepUntilNext(period: Duration, lead: Duration = .milliseconds(5), now: Date = Date()) async throws {
        let periodSeconds = Double(period.components.seconds) + Double(period.components.attoseconds) / 1e18
        let leadSeconds = Double(lead.components.seconds) + Double(lead.components.attoseconds) / 1e18
        let time = now.timeIntervalSince1970
        var next = (time / periodSeconds).rounded(.down) * periodSeconds + periodSeconds - leadSeconds
        if next <= time { next += periodSeconds }
        try await Task.sleep(for: .milliseconds(Int(((next - time) * 1000).rounded(.up))))
    }
}

/// How often processes sample their connections (cheap: one `getsockopt` per connection).
package enum TrafficSampling {
    package static let period: Duration = .milliseconds(250)
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    package var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
