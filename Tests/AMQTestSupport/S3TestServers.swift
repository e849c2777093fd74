import AsyncHTTPClient
import AMQObjectStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real S3-compatible server for tests: SeaweedFS (`weed server -s3`, disk-backed) or moto's S3
/// server, started on free 127.0.0.1 ports in a temporary directory and stopped by `stop()`.
///
/// Both accept any signature unless started with `checkingSignatures` (SeaweedFS only), which
/// configures one identity, ``credentials``, and makes SeaweedFS verify every request's signature.
package struct S3TestServer: Sendable {
    /// The credentials every test signs with; the only identity a signature-checking server knows.
    package static let credentials = S3Credentials(accessKeyID: "amqtest", secretAccessKey: "amqtestsecret")
    /// ``credentials`` as the environment of an `amq` process.
    package static let credentialsEnvironment = [
        "AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
    ]

    package enum Kind: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case seaweedfs, moto
        package var testDescription: String { rawValue }
    }

    package struct LaunchError: Error, CustomStringConvertible {
        package var description: String
        /// The server exited during start-up (typically a port taken under it): worth a retry.
        package var exitedEarly = false

        package init(description: String, exitedEarly: Bool = false) {
            self.description = description
            self.exitedEarly = exitedEarly
        }
    }

    package let kind: Kind
    /// `http://127.0.0.1:PORT`
    package let endpoint: String
    package let directory: String
    private let pid: Int32

    /// The Python virtual environment the test script made: `AMQ_TEST_VENV`, else `.venv` at the
    /// package root.
    package static var venvBin: String {
        if let venv = ProcessInfo.processInfo.environment["AMQ_TEST_VENV"], !venv.isEmpty { return venv + "/bin" }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent(".venv/bin").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return ".venv/bin"
    }

    /// Runs `body` against a freshly started server, stopping it afterwards whatever happens.
    package static func with<T>(_ kind: Kind, checkingSignatures: Bool = false, _ body: (S3TestServer) async throws -> T) async throws -> T {
        let server = try await start(kind, checkingSignatures: checkingSignatures)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Starts a server, trying again on fresh ports if one was taken between our probe and the
    /// server's bind (parallel tests start several servers at once).
    package static func start(_ kind: Kind, checkingSignatures: Bool = false, extraArguments: [String] = []) async throws -> S3TestServer {
        precondition(!checkingSignatures || kind == .seaweedfs, "only SeaweedFS is started with identities")
        var lastError: (any Error)?
        for _ in 0..<3 {
            do {
                return try await startOnce(kind, checkingSignatures: checkingSignatures, extraArguments: extraArguments)
            } catch let error as LaunchError where error.exitedEarly {
                lastError = error
            }
        }
        throw lastError!
    }

    private static func startOnce(_ kind: Kind, checkingSignatures: Bool, extraArguments: [String]) async throws -> S3TestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amq-s3-\(kind.rawValue)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let port = try freePort()
        let executable: String
        var arguments: [String]
        switch kind {
        case .seaweedfs:
            executable = venvBin + "/weed"
            // Every listener on a free loopback port: SeaweedFS has many, and some default to fixed
            // ports (Iceberg 8181, Lance 9101) that parallel servers would fight over.
            let ports = try (0..<7).map { _ in try freePort() }
            arguments = [
                "server", "-dir=\(directory)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.port=\(ports[0])", "-master.port.grpc=\(ports[1])",
                "-volume.port=\(ports[2])", "-volume.port.grpc=\(ports[3])",
                "-filer.port=\(ports[4])", "-filer.port.grpc=\(ports[5])",
                "-s3", "-s3.port=\(port)", "-s3.port.grpc=\(ports[6])", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-volume.max=0", "-master.volumeSizeLimitMB=64",
            ]
            if checkingSignatures {
                let identities = """
                    {"identities":[{"name":"amq","credentials":[{"accessKey":"\(credentials.accessKeyID)","secretKey":"\(credentials.secretAccessKey)"}],
                    "actions":["Admin","Read","Write","List","Tagging"]}]}
                    """
                try identities.write(toFile: directory + "/s3.json", atomically: true, encoding: .utf8)
                arguments.append("-s3.config=\(directory)/s3.json")
            }
        case .moto:
            executable = venvBin + "/moto_server"
            arguments = ["-H", "127.0.0.1", "-p", "\(port)"]
        }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw LaunchError(description: "\(executable) is missing; run scripts/test.sh, which installs the test servers")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + extraArguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let log = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? handle.close()
        let server = S3TestServer(kind: kind, endpoint: "http://127.0.0.1:\(port)", directory: directory, pid: process.processIdentifier)

        // Ready once a signed bucket and object write succeed: SeaweedFS needs its master elected
        // and a volume registered before writes do, and signed requests work on every variant.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if !process.isRunning { break }
            if await server.acceptsWrites() { return server }
            try await Task.sleep(for: .milliseconds(100))
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let exited = !process.isRunning
        await server.stop()
        throw LaunchError(
            description: "\(kind.rawValue) did not become ready on \(server.endpoint); log tail:\n\(output.suffix(2000))", exitedEarly: exited
        )
    }

    /// Creates a probe bucket, writes and deletes an object in it, with one attempt per request.
    private func acceptsWrites() async -> Bool {
        var configuration = S3Configuration(bucket: "amq-probe", endpoint: endpoint, credentials: Self.credentials)
        configuration.maxAttempts = 1
        configuration.requestTimeout = .seconds(2)
        var logger = Logger(label: "amq.test.s3-probe")
        logger.logLevel = .critical  // refusals while it starts are expected
        let probe = S3ObjectStore(configuration: configuration, logger: logger)
        do {
            try await probe.createBucketIfNeeded()
            try await probe.put("probe", body: ByteBuffer(string: "probe"))
            try await probe.delete(["probe"])
            return true
        } catch {
            return false
        }
    }

    /// Creates `bucket` (signed, so it works on every variant).
    package func createBucket(_ bucket: String) async throws {
        try await S3ObjectStore(configuration: S3Configuration(bucket: bucket, endpoint: endpoint, credentials: Self.credentials)).createBucketIfNeeded()
    }

    /// SIGTERM, then SIGKILL if it lingers; then removes the directory.
    package func stop() async {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, isRunning {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if isRunning { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private var isRunning: Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
package func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw S3TestServer.LaunchError(description: "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw S3TestServer.LaunchError(description: "bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

extension S3TestServer {
    /// A store on a fresh bucket of this server, under a prefix so key stripping is exercised too.
    package func makeStore(prefix: String = "amq/") async throws -> S3ObjectStore {
        let configuration = S3Configuration(
            bucket: "amq-\(UUID().uuidString.prefix(8).lowercased())", prefix: prefix, endpoint: endpoint, region: "us-east-1",
            addressing: .path, credentials: Self.credentials
        )
        let store = S3ObjectStore(configuration: configuration)
        try await store.createBucketIfNeeded()
        return store
    }
}
