import AMQControlPlane
import AMQTraffic
import Foundation
import Testing

/// Traffic history in SQLite: batches applied once, a restarted agent's new sequence accepted,
/// minute buckets rolled into hours and dropped past retention, reports filtered and checked.
@Suite struct TrafficStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)  // a minute start: 1_800_000_000 % 60 == 0

    func batch(_ origin: String, _ sequence: Int64, bytes: Int64, at date: Date, category: TrafficCategory = .produce, topic: String = "t",
               from source: String = "b", to destination: String = "a", inbound: Bool = true) -> TrafficBatch {
        var tally = TrafficTally()
        tally.add(TrafficFlow(category: category, topic: topic, source: source, destination: destination, inbound: inbound),
                  ByteCounts(bytes: bytes, wireBytes: bytes + 52), at: date)
        tally.add(.put, RequestCounts(requests: 1, bytes: bytes), at: date)
        return TrafficBatch(origin: origin, sequence: sequence, through: date.timeIntervalSince1970 + 1, delta: tally.delta)
    }

    @Test func aResentBatchIsAppliedOnceAndARestartedAgentStartsAgain() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let first = batch("x", 1, bytes: 100, at: t0)
        #expect(try await store.recordTraffic("demo", nodeID: 1, batches: [first]) == 1)
        // The answer was lost: the agent sends batch 1 again with batch 2.
        #expect(try await store.recordTraffic("demo", nodeID: 1, batches: [first, batch("x", 2, bytes: 10, at: t0)]) == 2)
        // Restarted: a new origin, counting from 1 again.
        #expect(try await store.recordTraffic("demo", nodeID: 1, batches: [batch("y", 1, bytes: 1, at: t0)]) == 1)
        let history = try await store.trafficHistory("demo", since: t0, until: t0.addingTimeInterval(60))
        #expect(history.flows.map(\.bytes) == [111])
        #expect(history.flows.map(\.wireBytes) == [111 + 3 * 52])
        #expect(history.requests.map(\.requests) == [3])
    }

    @Test func oldMinutesRollUpIntoHoursAndExpiredBucketsGo() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let hour = t0.addingTimeInterval(-Double(1_800_000_000 % 3600))
        for (i, minute) in [0, 1, 59].enumerated() {
            _ = try await store.recordTraffic("demo", nodeID: 2, batches: [batch("x", Int64(i + 1), bytes: 10, at: hour.addingTimeInterval(Double(minute * 60)))])
        }
        _ = try await store.recordTraffic("demo", nodeID: 2, batches: [batch("x", 4, bytes: 5, at: hour.addingTimeInterval(-100 * 86_400))])
        // 49 hours later (minute buckets are kept 48 hours by default): one hour bucket.
        try await store.compactTraffic("demo", now: hour.addingTimeInterval(49 * 3600 + 120))
        let history = try await store.trafficHistory("demo", since: hour.addingTimeInterval(-200 * 86_400), until: hour.addingTimeInterval(3600))
        #expect(history.flows.map(\.minute) == [Int64(hour.timeIntervalSince1970)])
        #expect(history.flows.map(\.bytes) == [30])
        #expect(history.requests.map(\.requests) == [3])
        #expect(history.hourBucketsBefore == Int64(hour.timeIntervalSince1970) + 3600)
    }

    @Test func reportsRefuseBadInputAndChangeNothing() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        _ = try await store.createTopic("demo", name: "orders", partitions: 3, config: TopicConfig())
        let window = TrafficQuery(since: t0, until: t0.addingTimeInterval(60))
        await #expect(throws: ControlPlaneError.self) { try await store.trafficReport("demo", TrafficQuery(since: t0, until: t0.addingTimeInterval(-1))) }
        var topic = window
        topic.topic = "nope"
        await #expect(throws: ControlPlaneError.self) { try await store.trafficReport("demo", topic) }
        var zone = window
        zone.zone = "z"
        await #expect(throws: ControlPlaneError.self) { try await store.trafficReport("demo", zone) }
        topic.topic = "orders"
        zone.zone = "unknown"
        _ = try await store.trafficReport("demo", topic)
        _ = try await store.trafficReport("demo", zone)
        await #expect(throws: ControlPlaneError.self) { try await store.updateSettings("demo", [(key: "price.s3-put", value: "-1")]) }
        #expect(try await store.cluster("demo").settings.traffic == TrafficSettings())
        _ = try await store.updateSettings("demo", [(key: "price.inter-zone-gb", value: "0.01"), (key: "kafka.follower-fetch-fraction", value: "1")])
        #expect(try await store.cluster("demo").settings.traffic.interZonePerGB == 0.01)
    }

    @Test func theReportSplitsWithinAcrossAndUnknownAndPricesThem() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        _ = try await store.createTopic("demo", name: "t", partitions: 3, config: TopicConfig())
        let gib: Int64 = 1 << 30
        _ = try await store.recordTraffic(
            "demo", nodeID: 1,
            batches: [
                batch("x", 1, bytes: gib - 52, at: t0, from: "b", to: "a"),  // 1 GiB across, produced
                batch("x", 2, bytes: gib - 52, at: t0, category: .fetch, from: "a", to: "a", inbound: false),  // 1 GiB within, consumed
                batch("x", 3, bytes: 948, at: t0, category: .metadata, topic: "", from: "unknown", to: "a"),  // 1000 unknown
            ]
        )
        let report = try await store.trafficReport("demo", TrafficQuery(since: t0, until: t0.addingTimeInterval(60)))
        #expect(report.totals == TrafficReport.Bytes(intraZone: gib, interZone: gib, unknownZone: 1000))
        #expect(abs(report.costs.interZone - 0.02) < 1e-12)
        // 3 PUTs at $0.000005.
        #expect(abs(report.costs.s3 - 0.000015) < 1e-12)
        // Kafka: P = C = 1 GiB, n = 3, RF = 3, φ = 0: 2/3 + 2 + 2/3 = 10/3 GiB.
        #expect(abs(Double(report.kafka.crossZoneBytes) / Double(gib) - 10.0 / 3) < 1e-9)
        #expect(abs(report.savings - (0.02 * 10 / 3 - 0.020015)) < 1e-9)
        #expect(report.zonePairs.map { "\($0.source)>\($0.destination)" } == ["a>a", "b>a", "unknown>a"])
        #expect(report.advice.map(\.topic) == ["t"])
        #expect(report.advice[0].avoidedInterZoneBytes == gib)
        // $0.02 avoided in the minute against at most 240 router PUTs and 480 GETs ($0.0014): routing pays.
        #expect(report.advice[0].recommendation == .routeEnable)
        #expect(report.advice[0].addedS3Puts == 240 && report.advice[0].addedS3Gets == 480)
    }
}
