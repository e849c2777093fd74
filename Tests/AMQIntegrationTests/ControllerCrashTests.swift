import AMQTestSupport
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11's headline: the controller of a local cluster SIGKILLed while a producer runs, then
/// `amq cluster start`. The controller comes back on its old address, the agent finds it again,
/// produce resumes within 5 s of the start returning, every acknowledged record reads back, and
/// `amq cluster stop` stops the agent without having to kill it.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ControllerCrashTests {
    private actor Log {
        var acked: [StorageCrashTests.Acked] = []
        var stop = false
        var lastSuccess = ContinuousClock.now
        func append(_ ack: StorageCrashTests.Acked) {
            acked.append(ack)
            lastSuccess = .now
        }
        func halt() { stop = true }
    }

    @Test func controllerRestartIsInvisibleBeyondSeconds() async throws {
        try await AMQProcess.with(cluster: "ctl") { amq in
            try await amq.ok(["cluster", "create", "ctl", "--local", "--zones", "a", "--agents-per-zone", "1"])
            try await amq.ok(["topic", "create", "events", "--partitions", "1", "--config", "linger.ms=5"])
            let before = try await amq.json(StatusJSON.self, ["cluster", "status"])
            let agent = try #require(before.agents.first)
            let controllerPID = try #require(before.controller.pid)
            let oldURL = try #require(before.controller.url)
            let base = "http://\(agent.host):\(try #require(agent.adminPort))/v1/topics/events/partitions/0/records"
            #expect(await eventually { await fetch("\(base)?offset=0").map { _ in true } ?? false })

            let log = Log()
            let producer = Task {
                var index = 0
                while await !log.stop {
                    let value = "r-\(index)"
                    index += 1
                    // A client's request timeout: a request sent during the outage is answered once
                    // its commit goes through after the restart.
                    if let produced = await produce(base, value: value, timeout: .seconds(10)) {
                        await log.append(.init(partition: 0, value: value, offset: produced.baseOffset))
                    }
                }
            }
            // Under way (a loaded machine may be slow here; the timing that matters is the resume).
            #expect(await eventually(timeout: .seconds(60)) { await log.acked.count >= 20 })
            kill(pid_t(controllerPID), SIGKILL)
            // The outage: long enough for the agent's calls to fail and the agent to notice.
            let outageStarted = ContinuousClock.now
            _ = await eventually(timeout: .seconds(10)) { ContinuousClock.now - outageStarted > .seconds(3) }

            try await amq.ok(["cluster", "start", "ctl"])
            let restartedAt = ContinuousClock.now
            let after = try await amq.json(StatusJSON.self, ["cluster", "status"])
            #expect(after.controller.url == oldURL, "the controller moved from \(oldURL) to \(after.controller.url ?? "nowhere")")
            #expect(after.agents.first?.pid == agent.pid, "cluster start restarted the agent")
            let ackedAtRestart = await log.acked.count
            let resumed = await eventually(timeout: .seconds(30), every: .milliseconds(20)) { await log.acked.count > ackedAtRestart }
            let resumeTime = ContinuousClock.now - restartedAt
            print("produce resumed \(resumeTime) after cluster start returned")
            #expect(resumed && resumeTime <= .seconds(5), "produce resumed only after \(resumeTime)")
            #expect(await eventually(timeout: .seconds(60)) { await log.acked.count >= ackedAtRestart + 20 })
            await log.halt()
            await producer.value

            // Every acknowledged record reads back, exactly once, in order.
            let acked = await log.acked
            var records: [StorageCrashTests.Fetched.Record] = []
            var offset: Int64 = 0
            while true {
                let page = try #require(await fetch("\(base)?offset=\(offset)&maxBytes=65536"), "fetch at \(offset) failed")
                records += page.records
                offset = (records.last?.offset ?? -1) + 1
                if offset >= page.highWatermark || page.records.isEmpty { break }
            }
            let stored = Dictionary(records.map { ($0.value ?? "", $0.offset) }, uniquingKeysWith: { first, _ in first })
            let missing = acked.filter { stored[$0.value] != $0.offset }
            #expect(missing.isEmpty, "\(missing.count) of \(acked.count) acknowledged records missing or moved, first \(missing.first.map(\.value) ?? "")")

            // Stop is clean: nothing needs SIGKILL.
            let stopped = try await amq.ok(["cluster", "stop", "ctl"])
            #expect(!stopped.stdout.contains("killed"), "\(stopped.stdout)")
        }
    }

    /// When the old port is taken, the controller comes up elsewhere and `cluster start` restarts
    /// the agents that call the old address; and an agent stopped while the controller is down
    /// gives up its drain in time: `cluster stop` never needs SIGKILL.
    @Test func movedControllerAndStopWithoutController() async throws {
        try await AMQProcess.with(cluster: "moved") { amq in
            try await amq.ok(["cluster", "create", "moved", "--local", "--zones", "a", "--agents-per-zone", "1"])
            try await amq.ok(["topic", "create", "events", "--partitions", "1"])
            let before = try await amq.json(StatusJSON.self, ["cluster", "status"])
            let oldURL = try #require(before.controller.url)
            let oldPort = try #require(URLComponents(string: oldURL)?.port)
            let controllerPID = try #require(before.controller.pid)
            kill(pid_t(controllerPID), SIGKILL)
            #expect(await eventually { !isAlive(controllerPID) })
            // Somebody else takes the port meanwhile (once the dead controller's connections let go of it).
            var taken: Int32?
            #expect(await eventually(timeout: .seconds(20)) { taken = listen(on: oldPort); return taken != nil })
            let squatter = try #require(taken)
            defer { close(squatter) }
            let started = try await amq.ok(["cluster", "start", "moved"])
            #expect(started.stderr.contains("follows an old controller address; restarting it"), "\(started.stderr)")
            let after = try await amq.json(StatusJSON.self, ["cluster", "status"])
            #expect(after.controller.url != oldURL)
            #expect(after.agents.first?.pid != before.agents.first?.pid && after.agents.first?.liveness == "alive")
            let agent = try #require(after.agents.first)
            let base = "http://\(agent.host):\(try #require(agent.adminPort))/v1/topics/events/partitions/0/records"
            #expect(await eventually(timeout: .seconds(20)) { await produce(base, value: "moved", timeout: .seconds(3)) != nil })

            // Controller gone, a produce left waiting for its commit: stop still ends cleanly.
            kill(pid_t(try #require(after.controller.pid)), SIGKILL)
            async let stuck = produce(base, value: "never-committed", timeout: .seconds(20))
            let stopped = try await amq.ok(["cluster", "stop", "moved"])
            #expect(stopped.stdout.contains("stopped 1") && !stopped.stdout.contains("killed"), "\(stopped.stdout)")
            #expect(await stuck == nil, "a produce whose commit never happened was acknowledged")
        }
    }

    private func listen(on port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
