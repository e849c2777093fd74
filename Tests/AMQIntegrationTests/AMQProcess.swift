import AMQTestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `amq` binary, built beside this test bundle, in a temp data directory.
struct AMQProcess {
    let dataDir: String

    typealias Result = ExternalProcess.Result

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["AMQ_BINARY"] { return path }
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
        // The runner may sit inside an .xctest bundle directory.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("amq").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("amq").path
    }

    init() throws {
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("amq-it-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
    }

    var dbPath: String { dataDir + "/amq.db" }

    /// Runs `amq ARGS` with AMQ_DATA_DIR set to this fixture's directory. A command still running
    /// after `deadline` is killed, so a hang fails its test (exit 137) instead of stalling the suite.
    @discardableResult
    func run(
        _ arguments: [String], environment extra: [String: String] = [:], input: String? = nil, deadline: Duration = .seconds(90)
    ) async throws -> Result {
        try await ExternalProcess.run(
            Self.binary, arguments, environment: extra.merging(["AMQ_DATA_DIR": dataDir]) { given, _ in given },
            removing: ["AMQ_DB", "AMQ_CLUSTER", "AMQ_BOOTSTRAP"], input: input, deadline: deadline
        )
    }

    /// Runs and requires exit 0.
    @discardableResult
    func ok(
        _ arguments: [String], environment: [String: String] = [:], input: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Result {
        let result = try await run(arguments, environment: environment, input: input)
        try #require(
            result.code == 0, "amq \(arguments.joined(separator: " ")) exited \(result.code): \(result.stderr)",
            sourceLocation: sourceLocation
        )
        return result
    }

    func json<T: Decodable>(_ type: T.Type, _ arguments: [String], environment: [String: String] = [:]) async throws -> T {
        let result = try await ok(arguments + ["--format", "json"], environment: environment)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(result.stdout.utf8))
    }

    /// Runs `body` with a fresh fixture, then stops `cluster` (if it still runs) and removes the
    /// directory, whether `body` passed or threw.
    static func with(cluster: String?, _ body: (AMQProcess) async throws -> Void) async throws {
        let amq = try AMQProcess()
        do {
            // The admin API's /v1 calls carry the cluster's secret (issue 12).
            try await AdminSecret.$file.withValue(cluster.map { amq.dataDir + "/clusters/\($0)/secret" }) {
                try await body(amq)
            }
        } catch {
            await amq.cleanup(cluster: cluster)
            throw error
        }
        await amq.cleanup(cluster: cluster)
    }

    /// Stops whatever the fixture's clusters still run and removes the directory.
    func cleanup(cluster: String?) async {
        if let cluster { _ = try? await run(["cluster", "stop", cluster, "--timeout", "5"]) }
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}

/// The secret file of the cluster a test works on, for the agents' admin API.
enum AdminSecret {
    @TaskLocal static var file: String?

    /// Adds `Authorization: Bearer <secret>` when the test's cluster has one.
    static func authorize(_ request: inout HTTPClientRequest) {
        guard let file, let secret = try? String(contentsOfFile: file, encoding: .utf8) else { return }
        request.headers.add(name: "Authorization", value: "Bearer \(secret.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
}

/// GET with a short timeout; status 0 when nothing answered.
func httpGet(_ url: String) async -> (status: Int, body: String) {
    do {
        var request = HTTPClientRequest(url: url)
        AdminSecret.authorize(&request)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    } catch {
        return (0, "\(error)")
    }
}

func isAlive(_ pid: Int) -> Bool {
    guard kill(pid_t(pid), 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
}
