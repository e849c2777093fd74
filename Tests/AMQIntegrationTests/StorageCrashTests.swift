import AMQTestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An agent process killed with SIGKILL in the middle of a stream of appends loses nothing it
/// acknowledged: started again, it reads back every acknowledged record exactly once, in order.
@Suite(.serialized, .timeLimit(.minutes(5))) struct StorageCrashTests {
    struct Acked: Sendable {
        var partition: Int
        var value: String
        var offset: Int64
    }

    struct Produced: Decodable {
        var baseOffset: Int64
    }

    struct Fetched: Decodable {
        struct Record: Decodable {
            var offset: Int64
            var value: String?
        }
        var records: [Record]
        var highWatermark: Int64
    }

    @Test func sigkillMidStreamLosesNoAcknowledgedAppend() async throws {
        try await AMQProcess.with(cluster: "crash") { amq in
            try await amq.ok(["cluster", "create", "crash", "--local", "--zones", "a", "--agents-per-zone", "1"])
            try await amq.ok(["topic", "create", "events", "--partitions", "2", "--config", "linger.ms=5"])
            let before = try await amq.json(StatusJSON.self, ["cluster", "status"])
            let agent = try #require(before.agents.first)
            let base = "http://\(agent.host):\(try #require(agent.adminPort))/v1/topics/events/partitions"
            #expect(await eventually { await httpGet("\(base)/0/records?offset=0").status == 200 })

            // Two appenders, one per partition, each waiting for its acknowledgement before the next.
            let acked = try await withThrowingTaskGroup(of: [Acked].self) { group in
                for partition in 0..<2 {
                    group.addTask {
                        var acked: [Acked] = []
                        for index in 0..<100_000 {
                            let value = "p\(partition)-\(index)"
                            guard let produced = await produce("\(base)/\(partition)/records", value: value) else { break }
                            acked.append(Acked(partition: partition, value: value, offset: produced.baseOffset))
                        }
                        return acked
                    }
                }
                group.addTask {
                    // Kill once both appenders are well under way.
                    _ = await eventually(timeout: .seconds(60)) {
                        let first = await fetch("\(base)/0/records?offset=0&maxBytes=1")?.highWatermark ?? 0
                        let second = await fetch("\(base)/1/records?offset=0&maxBytes=1")?.highWatermark ?? 0
                        return first >= 30 && second >= 30
                    }
                    kill(pid_t(agent.pid!), SIGKILL)
                    return []
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(acked.count >= 60)

            try await amq.ok(["cluster", "start", "crash"])
            let after = try await amq.json(StatusJSON.self, ["cluster", "status"])
            let restarted = try #require(after.agents.first)
            #expect(restarted.pid != agent.pid)
            let newBase = "http://\(restarted.host):\(try #require(restarted.adminPort))/v1/topics/events/partitions"

            for partition in 0..<2 {
                var records: [Fetched.Record] = []
                var offset: Int64 = 0
                while true {
                    guard let page = await fetch("\(newBase)/\(partition)/records?offset=\(offset)&maxBytes=4096") else {
                        Issue.record("fetch of partition \(partition) at \(offset) failed")
                        break
                    }
                    records += page.records
                    offset = (records.last?.offset ?? -1) + 1
                    if offset >= page.highWatermark || page.records.isEmpty { break }
                }
                #expect(records.map(\.offset) == Array(0..<Int64(records.count)), "offsets of partition \(partition) are not contiguous")
                let values = records.compactMap(\.value)
                #expect(Set(values).count == values.count, "partition \(partition) has duplicates")
                let indices = values.compactMap { Int($0.split(separator: "-").last!) }
                #expect(indices == indices.sorted(), "partition \(partition) is out of order")
                let mine = acked.filter { $0.partition == partition }
                let stored = Dictionary(records.map { ($0.value ?? "", $0.offset) }, uniquingKeysWith: { first, _ in first })
                for ack in mine {
                    #expect(stored[ack.value] == ack.offset, "acknowledged \(ack.value) at \(ack.offset) is missing or moved")
                }
                // Appending continues where the log ends.
                let next = await produce("\(newBase)/\(partition)/records", value: "after-restart")
                #expect(next?.baseOffset == Int64(records.count))
            }
        }
    }
}

func produce(_ url: String, value: String, timeout: TimeAmount = .seconds(10)) async -> StorageCrashTests.Produced? {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: #"{"records":[{"key":"k","value":"\#(value)"}]}"#))
    AdminSecret.authorize(&request)
    guard let response = try? await HTTPClient.shared.execute(request, timeout: timeout), response.status == .ok,
        let body = try? await response.body.collect(upTo: 1 << 20)
    else { return nil }
    return try? JSONDecoder().decode(StorageCrashTests.Produced.self, from: Data(body.readableBytesView))
}

func fetch(_ url: String) async -> StorageCrashTests.Fetched? {
    let (status, body) = await httpGet(url)
    guard status == 200 else { return nil }
    return try? JSONDecoder().decode(StorageCrashTests.Fetched.self, from: Data(body.utf8))
}
