import AMQTestSupport
import Foundation
import Testing

/// The chaos harness (Tests/Chaos/chaos.py, issue 11) in its short form: a three-zone local
/// cluster on SeaweedFS behind a fault-injecting S3 proxy, idempotent producers and group
/// members, agents and the controller SIGKILLed, a node drained, a zone stopped, S3 storms; every
/// acknowledged record must read back exactly once, in order, and produce must resume within 5 s
/// of a controller restart. `AMQ_CHAOS_DURATION` and `AMQ_CHAOS_SEED` change the run; a failure
/// prints the seed that replays it.
///
/// Part of the zone-routing proof's serialized suite: the two process harnesses are the heaviest
/// tests, and a run of either on a machine the other saturates would measure the machine.
extension ZoneRoutingNamespaceTests {
    static var chaosScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Chaos").appendingPathComponent("chaos.py").path
    }

    @Test func nothingAcknowledgedIsLostOrDuplicated() async throws {
        let environment = ProcessInfo.processInfo.environment
        var arguments = [Self.chaosScript, "--amq", AMQProcess.binary, "--duration", environment["AMQ_CHAOS_DURATION"] ?? "60"]
        if let seed = environment["AMQ_CHAOS_SEED"] { arguments += ["--seed", seed] }
        try await Self.runHarness(
            "chaos", arguments, environment: ["PATH": S3TestServer.venvBin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")]
        )
    }

    /// Finding 8 with real processes: the controller SIGKILLed for `AMQ_OUTAGE_SECONDS` (15 in
    /// CI; the 60 with the variable) under a full-speed idempotent producer; the agent's
    /// memory stays bounded, the producer gets timeouts, produce resumes within 5 s of
    /// `cluster start`, and every acknowledged record reads back once.
    @Test func aLongControllerOutageBoundsMemoryAndLosesNothing() async throws {
        let script = URL(fileURLWithPath: Self.chaosScript).deletingLastPathComponent().appendingPathComponent("controller_outage.py").path
        let outage = ProcessInfo.processInfo.environment["AMQ_OUTAGE_SECONDS"] ?? "15"
        try await Self.runHarness("controller outage", [script, "--amq", AMQProcess.binary, "--outage", outage])
    }

    /// Runs a Python harness of Tests/Chaos; it must exit 0 having printed PASS.
    static func runHarness(
        _ name: String, _ arguments: [String], environment: [String: String] = [:], deadline: Duration = .seconds(420),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let result = try await ExternalProcess.run(
            python, arguments, environment: environment, removing: ["AMQ_DB", "AMQ_CLUSTER", "AMQ_BOOTSTRAP", "AMQ_DATA_DIR"],
            deadline: deadline
        )
        print(result.stdout)
        #expect(
            result.code == 0 && result.stdout.contains("PASS"),
            "\(name) harness failed (exit \(result.code)):\n\(result.stdout.suffix(6000))\n\(result.stderr.suffix(4000))",
            sourceLocation: sourceLocation
        )
    }
}
