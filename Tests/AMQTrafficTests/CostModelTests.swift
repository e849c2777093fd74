import AMQTraffic
import Foundation
import Testing

/// The cost model pinned against figures computed by hand (docs/traffic.md, "Cost model").
@Suite struct CostModelTests {
    let gib = CostModel.bytesPerGB

    @Test func threeZonesRF3WithFollowerFetchingIsAutoMQsMonthAtOneGiBPerSecond() {
        // 1 GiB/s for 30 days, one consumer group reading from in-zone followers (φ = 1):
        // P = 2,592,000 GiB; P·2/3 + P·2 = 6,912,000 GiB; × $0.02 = $138,240.
        let produced = 2_592_000 * gib
        let bytes = CostModel.kafkaCrossZoneBytes(produced: produced, consumed: produced, zones: 3, replicationFactor: 3, followerFetch: 1)
        #expect(abs(bytes / gib - 6_912_000) < 0.001)
        #expect(abs(CostModel.interZoneCost(bytes, TrafficSettings()) - 138_240) < 0.001)
    }

    @Test func threeZonesRF3ThreeGroupsWithoutFollowerFetching() {
        // 100 MiB/s for 30 days is 253,125 GiB; three groups read it all from leaders (φ = 0):
        // P·2/3 + P·2 + 3P·2/3 = P·14/3 = 1,181,250 GiB; × $0.02 = $23,625.
        let produced = 253_125 * gib
        let bytes = CostModel.kafkaCrossZoneBytes(produced: produced, consumed: 3 * produced, zones: 3, replicationFactor: 3, followerFetch: 0)
        #expect(abs(bytes / gib - 1_181_250) < 0.001)
        #expect(abs(CostModel.interZoneCost(bytes, TrafficSettings()) - 23_625) < 0.001)
    }

    @Test func twoZonesRF2HalfFollowerFetchingAtACustomPrice() throws {
        // P = 100 GiB, C = 200 GiB, n = 2, RF = 2, φ = 0.5: 100·1/2 + 100·1 + 200·0.5·1/2 = 200 GiB;
        // at $0.01 per GiB (GCP) = $2.
        var settings = TrafficSettings()
        try settings.set("price.inter-zone-gb", "0.01")
        let bytes = CostModel.kafkaCrossZoneBytes(produced: 100 * gib, consumed: 200 * gib, zones: 2, replicationFactor: 2, followerFetch: 0.5)
        #expect(abs(bytes / gib - 200) < 0.001)
        #expect(abs(CostModel.interZoneCost(bytes, settings) - 2) < 0.000_001)
    }

    @Test func oneZoneCrossesNothingAndFollowersBeyondTheZonesShareThem() {
        #expect(CostModel.kafkaCrossZoneBytes(produced: 1000, consumed: 1000, zones: 1, replicationFactor: 3, followerFetch: 0) == 0)
        // RF 5 in 3 zones: only 2 followers can be in other zones.
        let bytes = CostModel.kafkaCrossZoneBytes(produced: 300, consumed: 0, zones: 3, replicationFactor: 5, followerFetch: 0)
        #expect(abs(bytes - (200 + 600)) < 0.000_001)
    }

    @Test func s3RequestsArePricedByOperation() {
        let cost = CostModel.requestCost([.put: 1000, .get: 1000, .rangedGet: 1000, .list: 10, .delete: 50], TrafficSettings())
        // 1000 × 0.000005 + 2000 × 0.0000004 + 10 × 0.000005 + 50 × 0 = 0.005 + 0.0008 + 0.00005
        #expect(abs(cost - 0.00585) < 1e-12)
    }

    @Test func badPricesAndSettingsAreRefusedWithWhatWouldDo() {
        var settings = TrafficSettings()
        #expect(throws: TrafficError.self) { try settings.set("price.s3-put", "-0.1") }
        #expect(throws: TrafficError.self) { try settings.set("price.s3-put", "cheap") }
        #expect(throws: TrafficError.self) { try settings.set("kafka.follower-fetch-fraction", "1.5") }
        #expect(throws: TrafficError.self) { try settings.set("kafka.replication-factor", "0") }
        #expect(throws: TrafficError.self) { try settings.set("price.nothing", "1") }
        #expect(settings == TrafficSettings())
        do {
            try settings.set("price.inter-zone-gb", "-1")
        } catch {
            #expect(error.message.contains("cannot be negative"))
        }
    }
}
