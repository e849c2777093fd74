import AMQCommands
import ArgumentParser
import Foundation
import Testing

/// The committed completion scripts must match what the CLI generates now.
@Suite struct CompletionsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: [(CompletionShell.bash, "amq.bash"), (.zsh, "_amq"), (.fish, "amq.fish")])
    func completionsAreCurrent(_ shell: CompletionShell, _ file: String) throws {
        let path = Self.root.appendingPathComponent("completions/\(file)").path
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        let generated = AMQCommand.completionScript(for: shell)
        #expect(
            committed.trimmingCharacters(in: .newlines) == generated.trimmingCharacters(in: .newlines),
            "completions/\(file) is stale; run scripts/generate-completions.sh and commit the result"
        )
    }
}
