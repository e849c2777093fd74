import AMQTestSupport
import Foundation
import Testing

/// Issue 14, item 4: one agent under full-speed produce and a consumer reading behind it
/// (Tests/Soak/memory_soak.py) keeps its resident memory under its budget (`agent.memory.bytes`,
/// the default 384 MiB) + 64 MiB at every sample, and flat: the last quarter of the run no more
/// than 64 MiB above the second. Two minutes in CI (`AMQ_SOAK_SECONDS` changes it); the hour-long
/// run is the script's `--seconds 3600`.
///
/// In the process harnesses' serialized suite: it saturates both cores.
extension ZoneRoutingNamespaceTests {
    @Test func anAgentAtFullLoadStaysWithinItsMemoryBudget() async throws {
        let script = URL(fileURLWithPath: Self.chaosScript).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Soak").appendingPathComponent("memory_soak.py").path
        let seconds = ProcessInfo.processInfo.environment["AMQ_SOAK_SECONDS"] ?? "120"
        try await Self.runHarness("memory soak", [script, "--amq", AMQProcess.binary, "--seconds", seconds], deadline: .seconds((Int(seconds) ?? 120) + 180))
    }
}
