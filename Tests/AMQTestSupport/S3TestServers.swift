import AsyncHTTPClient
import AMQObjectStore
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real S3-compatible server for tests: SeaweedFS (`weed server -s3`, disk-backed) or moto's S3
/// server, started on free 127.0.0.1 ports in a temporary directory and stopped by `stop()`.
package struct S3TestServer: Sendable {
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
    package static func with<T>(_ kind: Kind, _ body: (S3TestServer) async throws -> T) async throws -> T {
        let server = try await start(kind)
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
    package static func start(_ kind: Kind, extraArguments: [String] = []) async throws -> S3TestServer {
        var lastError: (any Error)?
        for _ in 0..<3 {
            do {
                return try await startOnce(kind, extraArguments: extraArguments)
            } catch let error as LaunchError where error.exitedEarly {
                lastError = error
            }
        }
        throw lastError!
    }

    private static func startOnce(_ kind: Kind, extraArguments: [String]) async throws -> S3TestServer {
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

        // Ready once S3 answers anything over HTTP; SeaweedFS also needs its master elected and a
        // volume registered before writes succeed, so probe with a real bucket write.
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

    /// Creates and deletes a probe bucket and object with unsigned requests (both servers accept
    /// anonymous requests when no identities are configured).
    private func acceptsWrites() async -> Bool {
        let bucket = endpoint + "/amq-probe"
        guard let created = await status(.PUT, bucket), created == 200 || created == 409 else { return false }
        guard await status(.PUT, bucket + "/probe", body: "probe") == 200 else { return false }
        _ = await status(.DELETE, bucket + "/probe")
        _ = await status(.DELETE, bucket)
        return true
    }

    private func status(_ method: HTTPMethod, _ url: String, body: String? = nil) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// Creates `bucket` with an unsigned request (the test servers accept anonymous callers).
    package func createBucket(_ bucket: String) async throws {
        guard let code = await status(.PUT, "\(endpoint)/\(bucket)"), code == 200 || code == 409 else {
            throw LaunchError(description: "cannot create bucket \(bucket) on \(endpoint)")
        }
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
            addressing: .path, credentials: S3Credentials(accessKeyID: "amqtest", secretAccessKey: "amqtestsecret")
        )
        let store = S3ObjectStore(configuration: configuration)
        try await store.createBucketIfNeeded()
        return store
    }
}
