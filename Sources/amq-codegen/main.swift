import AMQKafkaCodegen
import Foundation

/// amq-codegen --schemas DIR --output DIR [--test-output DIR]
/// `--schemas` may also be a Python venv with kafka-python installed.
var arguments = CommandLine.arguments.dropFirst()
var options: [String: String] = [:]
while let flag = arguments.popFirst() {
    guard flag.hasPrefix("--"), let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("usage: amq-codegen --schemas DIR --output DIR [--test-output DIR]\n".utf8))
        exit(2)
    }
    options[String(flag.dropFirst(2))] = value
}
guard let schemas = options["schemas"], let output = options["output"] else {
    FileHandle.standardError.write(Data("usage: amq-codegen --schemas DIR --output DIR [--test-output DIR]\n".utf8))
    exit(2)
}
do {
    var schemaURL = URL(fileURLWithPath: schemas)
    if !FileManager.default.fileExists(atPath: schemaURL.appendingPathComponent("ProduceRequest.json").path) {
        schemaURL = try Generator.schemaDirectory(inVenv: schemaURL)
    }
    let generated = try Generator.generate(schemaDirectory: schemaURL)
    try Generator.write(generated.sources, to: URL(fileURLWithPath: output))
    if let testOutput = options["test-output"] {
        try Generator.write(generated.tests, to: URL(fileURLWithPath: testOutput))
    }
} catch {
    FileHandle.standardError.write(Data("amq-codegen: \(error)\n".utf8))
    exit(1)
}
