import AMQKafkaCodegen
import Foundation
import Testing

@Suite struct GeneratedCodeStalenessTests {
    /// The committed Generated/ folders must be exactly what the generator makes from the schemas,
    /// so nobody edits generated code by hand and a generator change is always regenerated.
    @Test func committedCodeMatchesTheGenerator() throws {
        let root = PackagePaths.root
        let venv = ProcessInfo.processInfo.environment["AMQ_TEST_VENV"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent(".venv")
        guard let schemas = try? Generator.schemaDirectory(inVenv: venv) else {
            // Recorded, not skipped: the test command always provides the venv.
            Issue.record("no kafka-python schemas in \(venv.path); set AMQ_TEST_VENV")
            return
        }
        let output = try Generator.generate(schemaDirectory: schemas)
        try compare(output.sources, with: root.appendingPathComponent("Sources/AMQKafkaProtocol/Generated"))
        try compare(output.tests, with: root.appendingPathComponent("Tests/AMQKafkaProtocolTests/Generated"))
    }

    private func compare(_ files: [String: String], with directory: URL) throws {
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }
        #expect(Set(onDisk) == Set(files.keys), "files in \(directory.lastPathComponent); run scripts/generate-protocol.sh")
        for (name, contents) in files {
            let committed = try? Data(contentsOf: directory.appendingPathComponent(name))
            #expect(committed == Data(contents.utf8), "\(name) is stale; run scripts/generate-protocol.sh")
        }
    }

    @Test func generationIsDeterministic() throws {
        let venv = ProcessInfo.processInfo.environment["AMQ_TEST_VENV"].map { URL(fileURLWithPath: $0) }
            ?? PackagePaths.root.appendingPathComponent(".venv")
        guard let schemas = try? Generator.schemaDirectory(inVenv: venv) else {
            Issue.record("no kafka-python schemas in \(venv.path); set AMQ_TEST_VENV")
            return
        }
        let first = try Generator.generate(schemaDirectory: schemas)
        let second = try Generator.generate(schemaDirectory: schemas)
        #expect(first.sources == second.sources && first.tests == second.tests)
        #expect(first.sources.values.allSatisfy { $0.hasPrefix(Generator.header + "\n") })
    }
}
