import AMQSecurity
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Testing

/// Certificates from the local CA work with NIOSSL as server and client certificates, and a
/// reload swaps the server's certificate for new handshakes.
@Suite struct TLSMaterialTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("amq-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Serves TLS with `material` until the test ends; returns the port.
    static func serve(_ material: TLSMaterial) async throws -> (any Channel) {
        let context = try material.makeServerContext()
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// The server's certificate as a client trusting `client` sees it; nil when the handshake fails.
    static func serverCertificate(port: Int, client: TLSClientFiles) async throws -> NIOSSLCertificate? {
        let context = try NIOSSLContext(configuration: try client.configuration())
        let handshake = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Bool.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(HandshakeOutcome(promise: handshake))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        defer { channel.close(promise: nil) }
        // The handshake ends in success, or in an error and a closed channel: no polling.
        guard try await handshake.futureResult.get() else { return nil }
        return try await channel.nioSSL_peerCertificate().get()
    }

    /// Tells how the TLS handshake ended.
    final class HandshakeOutcome: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Bool>
        init(promise: EventLoopPromise<Bool>) { self.promise = promise }

        /// The first outcome counts (an error is followed by the channel closing); NIO ignores
        /// a promise's later completions.
        private func finish(_ succeeded: Bool) {
            promise.succeed(succeeded)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent { finish(true) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(false)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(false)
            context.fireChannelInactive()
        }
    }

    @Test func aReloadServesTheNewCertificateToNewConnections() async throws {
        let first = try LocalCertificateAuthority.create(in: try Self.directory(), hosts: ["127.0.0.1"], commonName: "first")
        let second = try LocalCertificateAuthority.create(in: try Self.directory(), hosts: ["127.0.0.1"], commonName: "second")
        let live = try Self.directory()
        let files = TLSFiles(certificateFile: live + "/node.pem", keyFile: live + "/node-key.pem", caFile: first.caFile)
        try FileManager.default.copyItem(atPath: first.certificateFile, toPath: files.certificateFile)
        try FileManager.default.copyItem(atPath: first.keyFile, toPath: files.keyFile)
        let material = try TLSMaterial(files)
        let server = try await Self.serve(material)
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)

        let before = try await Self.serverCertificate(port: port, client: TLSClientFiles(caFile: first.caFile))
        #expect(before == (try NIOSSLCertificate.fromPEMFile(first.certificateFile)).first)
        // A client trusting another CA refuses the server.
        #expect(try await Self.serverCertificate(port: port, client: TLSClientFiles(caFile: second.caFile)) == nil)

        for (from, to) in [(second.certificateFile, files.certificateFile), (second.keyFile, files.keyFile)] {
            try FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        try material.reload()
        let after = try await Self.serverCertificate(port: port, client: TLSClientFiles(caFile: second.caFile))
        #expect(after == (try NIOSSLCertificate.fromPEMFile(second.certificateFile)).first)
    }

    @Test func aKeyThatDoesNotLoadKeepsTheOldIdentity() throws {
        let ca = try LocalCertificateAuthority.create(in: try Self.directory(), hosts: [], commonName: "keep")
        let material = try TLSMaterial(TLSFiles(certificateFile: ca.certificateFile, keyFile: ca.keyFile, caFile: ca.caFile))
        let original = material.certificate
        try "not a key".write(toFile: ca.keyFile, atomically: true, encoding: .utf8)
        #expect(throws: SecurityError.self) { try material.reload() }
        #expect(material.certificate == original)
    }

    @Test func keysAreWrittenPrivate() throws {
        let directory = try Self.directory()
        let ca = try LocalCertificateAuthority.create(in: directory, hosts: ["10.1.2.3"], commonName: "perm")
        for key in [ca.keyFile, directory + "/ca-key.pem"] {
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key) is \(String(mode ?? 0, radix: 8))")
        }
    }

    @Test func listenersParseLikeKafkas() throws {
        #expect(try KafkaListenerSpec.parse("SASL_SSL://0.0.0.0:9093") == KafkaListenerSpec(securityProtocol: .saslSSL, host: "0.0.0.0", port: 9093))
        #expect(try KafkaListenerSpec.parse("plaintext://:9092") == KafkaListenerSpec(securityProtocol: .plaintext, host: nil, port: 9092))
        #expect(try KafkaListenerSpec.parse("SSL://[::1]:0").host == "::1")
        #expect(throws: SecurityError.self) { try KafkaListenerSpec.parse("TLS://host:1") }
        #expect(throws: SecurityError.self) { try KafkaListenerSpec.parse("SSL://host") }
    }
}

extension TLSMaterialTests {
    @Test func addressesAreNotSentAsServerNames() {
        #expect(TLSClientFiles.serverHostname(for: "127.0.0.1") == nil)
        #expect(TLSClientFiles.serverHostname(for: "::1") == nil)
        #expect(TLSClientFiles.serverHostname(for: "cafe.de") == "cafe.de")
        #expect(TLSClientFiles.serverHostname(for: "amq-agent-0.amq-agents.prod.svc") == "amq-agent-0.amq-agents.prod.svc")
    }
}
