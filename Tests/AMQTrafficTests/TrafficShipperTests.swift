import AMQTraffic
import Foundation
import Testing

/// Shipping counts with heartbeats: nothing lost when a heartbeat or its answer is lost, nothing
/// counted twice when a batch goes again.
@Suite struct TrafficShipperTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let flow = TrafficFlow(category: .produce, topic: "t", source: "a", destination: "b", inbound: true)

    func tally(_ bytes: Int64, at date: Date) -> TrafficTally {
        var tally = TrafficTally()
        tally.add(flow, ByteCounts(bytes: bytes, wireBytes: bytes + 52), at: date)
        return tally
    }

    /// The controller's side as the store does it: apply a batch whose sequence is new.
    struct Receiver {
        var applied: Int64 = 0
        var total = TrafficTally()
        mutating func receive(_ batches: [TrafficBatch]) -> Int64 {
            for batch in batches where batch.sequence > applied {
                total.merge(TrafficTally(batch.delta))
                applied = batch.sequence
            }
            return applied
        }
    }

    @Test func aLostAnswerResendsAndTheReceiverAppliesOnce() {
        var shipper = TrafficShipper(origin: "x")
        var receiver = Receiver()
        shipper.add(tally(100, at: t0))
        let first = shipper.batchesToSend(now: t0.addingTimeInterval(1))
        _ = receiver.receive(first)  // applied, but the answer is lost
        shipper.add(tally(50, at: t0.addingTimeInterval(1.5)))
        let second = shipper.batchesToSend(now: t0.addingTimeInterval(2))
        #expect(second.map(\.sequence) == [1, 2])
        shipper.acknowledged(through: receiver.receive(second))
        #expect(shipper.unacknowledged.isEmpty)
        #expect(receiver.total.flows.values.reduce(0) { $0 + $1.bytes } == 150)
    }

    @Test func aLostHeartbeatLosesNothingAndMinutesStayApart() {
        var shipper = TrafficShipper(origin: "x")
        var receiver = Receiver()
        shipper.add(tally(10, at: t0))
        _ = shipper.batchesToSend(now: t0.addingTimeInterval(1))  // never arrives
        shipper.add(tally(20, at: t0.addingTimeInterval(61)))
        shipper.acknowledged(through: receiver.receive(shipper.batchesToSend(now: t0.addingTimeInterval(62))))
        #expect(receiver.total.flows.count == 2)
        #expect(receiver.total.delta.flows.map(\.bytes) == [10, 20])
        #expect(receiver.total.delta.flows.map(\.wireBytes) == [62, 72])
    }

    @Test func whileTheControllerIsAwayCountsWaitInPendingThenGo() {
        var shipper = TrafficShipper(origin: "x", maxUnacknowledged: 3)
        for i in 0..<10 {
            shipper.add(tally(1, at: t0.addingTimeInterval(Double(i))))
            _ = shipper.batchesToSend(now: t0.addingTimeInterval(Double(i) + 0.5))
        }
        #expect(shipper.unacknowledged.count == 3)
        #expect(shipper.unacknowledged.last!.through == t0.addingTimeInterval(2.5).timeIntervalSince1970)
        var receiver = Receiver()
        shipper.acknowledged(through: receiver.receive(shipper.batchesToSend(now: t0.addingTimeInterval(11))))
        shipper.acknowledged(through: receiver.receive(shipper.batchesToSend(now: t0.addingTimeInterval(12))))
        #expect(shipper.unacknowledged.isEmpty)
        #expect(receiver.total.flows.values.reduce(0) { $0 + $1.bytes } == 10)
    }

    @Test func minutesAreTheirStartsInSeconds() {
        #expect(TrafficTally.minute(of: Date(timeIntervalSince1970: 119.9)) == 60)
        #expect(TrafficTally.minute(of: Date(timeIntervalSince1970: 120)) == 120)
    }
}
