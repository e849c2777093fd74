import AMQAgent
import Testing

/// `max.connections` and `connections.max.idle.ms` as decisions, with the time given.
@Suite struct ConnectionLimitsTests {
    @Test func connectionsBeyondTheLimitAreRefusedUntilOneCloses() {
        var limits = ConnectionLimits()
        let admitted = [limits.admit(limit: 2), limits.admit(limit: 2), limits.admit(limit: 2)]
        #expect(admitted == [true, true, false])
        #expect(limits.open == 2)
        limits.closed()
        let again = limits.admit(limit: 2)
        #expect(again)
        // A lowered limit refuses new ones; those open stay.
        let lowered = limits.admit(limit: 1)
        #expect(!lowered && limits.open == 2)
    }

    @Test func aConnectionIsIdleOnlyWithNothingInFlightForTheWholeLimit() {
        let start = ContinuousClock.now
        var activity = ConnectionLimits.Activity(now: start)
        #expect(!activity.isIdle(now: start + .seconds(9), limit: .seconds(10)))
        #expect(activity.isIdle(now: start + .seconds(10), limit: .seconds(10)))
        // A request in flight (a fetch parked for minutes) is activity however long it takes.
        activity.started(now: start + .seconds(1))
        #expect(!activity.isIdle(now: start + .seconds(60), limit: .seconds(10)))
        activity.finished(now: start + .seconds(60))
        #expect(!activity.isIdle(now: start + .seconds(65), limit: .seconds(10)))
        #expect(activity.isIdle(now: start + .seconds(70), limit: .seconds(10)))
        #expect(activity.inFlight == 0)
    }
}
