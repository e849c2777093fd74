import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Whether a TLS server asks its clients for certificates.
package enum TLSClientAuth: String, Sendable, Codable, CaseIterable {
    /// Clients are not asked (Kafka's `ssl.client.auth=none`).
    case none
    /// A certificate, when offered, must chain to the CA.
    case optional
    /// Mutual TLS: no certificate from the CA, no connection.
    case required
}

/// Where a process's TLS files are: its certificate chain and key (PEM), the CA it trusts for
/// peers (and clients, with mutual TLS), and whether its servers require client certificates.
package struct TLSFiles: Sendable, Hashable, Codable {
    package var certificateFile: String
    package var keyFile: String
    package var caFile: String?
    package var clientAuth: TLSClientAuth

    package init(certificateFile: String, keyFile: String, caFile: String?, clientAuth: TLSClientAuth = .none) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.clientAuth = clientAuth
    }

    /// The same identity as a client's: trusting the CA, presenting this certificate.
    package var asClient: TLSClientFiles {
        TLSClientFiles(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile)
    }
}

/// A process's TLS identity, reloadable: servers built from it pick up a new certificate and key
/// at the next handshake after ``reload()`` (called on SIGHUP), without dropping connections.
/// Trust roots are read once; a new CA needs a restart.
package final class TLSMaterial: Sendable {
    package let files: TLSFiles
    private let identity: Mutex<Identity>
    private let trustRoots: [NIOSSLCertificate]?

    struct Identity: Sendable {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    package init(_ files: TLSFiles) throws(SecurityError) {
        self.files = files
        identity = Mutex(try Self.loadIdentity(files))
        if let caFile = files.caFile {
            do {
                trustRoots = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw SecurityError("cannot read the CA certificates in \(caFile): \(error); pass a PEM file to --tls-ca")
            }
            guard trustRoots?.isEmpty == false else { throw SecurityError("\(caFile) holds no PEM certificate; pass the CA's certificate to --tls-ca") }
        } else {
            trustRoots = nil
            guard files.clientAuth == .none else {
                throw SecurityError("--tls-client-auth \(files.clientAuth.rawValue) needs --tls-ca, the CA client certificates must chain to")
            }
        }
    }

    private static func loadIdentity(_ files: TLSFiles) throws(SecurityError) -> Identity {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
        } catch {
            throw SecurityError("cannot read the certificate in \(files.certificateFile): \(error); pass a PEM certificate chain to --tls-cert")
        }
        guard !chain.isEmpty else { throw SecurityError("\(files.certificateFile) holds no PEM certificate; pass one to --tls-cert") }
        do {
            return Identity(chain: chain, key: try NIOSSLPrivateKey(file: files.keyFile, format: .pem))
        } catch {
            // Never the key's bytes: only where it was looked for.
            throw SecurityError("cannot read the private key in \(files.keyFile): \(error); pass a PEM key to --tls-key")
        }
    }

    /// Reads the certificate and key again; on failure the old ones stay in use.
    package func reload() throws(SecurityError) {
        let fresh = try Self.loadIdentity(files)
        identity.withLock { $0 = fresh }
    }

    /// The certificate in use now (its first, leaf certificate).
    package var certificate: NIOSSLCertificate { identity.withLock { $0.chain[0] } }

    /// A server configuration whose certificate and key are read at every handshake; client
    /// certificates as `clientAuth` says (default: the files' setting).
    package func serverConfiguration(clientAuth: TLSClientAuth? = nil) -> TLSConfiguration {
        let current = identity.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: current.chain.map { .certificate($0) }, privateKey: .privateKey(current.key)
        )
        configuration.minimumTLSVersion = .tlsv12
        if let trustRoots { configuration.trustRoots = .certificates(trustRoots) }
        switch clientAuth ?? files.clientAuth {
        case .none: configuration.certificateVerification = .none
        // Clients are named by their certificate's chain to the CA, not by their address.
        case .optional: configuration.certificateVerification = .optionalVerification
        case .required: configuration.certificateVerification = .noHostnameVerification
        }
        configuration.sslContextCallback = { [self] _, promise in
            let now = self.identity.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = now.chain.map { .certificate($0) }
            override.privateKey = .privateKey(now.key)
            promise.succeed(override)
        }
        return configuration
    }

    package func makeServerContext(clientAuth: TLSClientAuth? = nil) throws(SecurityError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: serverConfiguration(clientAuth: clientAuth))
        } catch {
            throw SecurityError("cannot set up TLS with \(files.certificateFile) and \(files.keyFile): \(error)")
        }
    }

    /// A client configuration that trusts the CA and, for mutual TLS, presents this identity.
    package func clientConfiguration() -> TLSConfiguration {
        let current = identity.withLock { $0 }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let trustRoots { configuration.trustRoots = .certificates(trustRoots) }
        configuration.certificateChain = current.chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(current.key)
        return configuration
    }

    package func makeClientContext() throws(SecurityError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: clientConfiguration())
        } catch {
            throw SecurityError("cannot set up TLS with \(files.certificateFile) and \(files.keyFile): \(error)")
        }
    }
}

/// A client's trust for servers it dials: the CA, and optionally its own certificate (mTLS).
package struct TLSClientFiles: Sendable, Hashable, Codable {
    package var caFile: String?
    package var certificateFile: String?
    package var keyFile: String?

    package init(caFile: String?, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// The name to verify and send as SNI when dialling `host`: nil for an IP address, which is
    /// checked against the certificate's IP SANs instead (SNI carries no addresses).
    package static func serverHostname(for host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    package func configuration() throws(SecurityError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw SecurityError("cannot read the CA certificates in \(caFile): \(error)")
            }
        }
        if let certificateFile, let keyFile {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw SecurityError("cannot read the client certificate \(certificateFile) or its key \(keyFile): \(error)")
            }
        }
        return configuration
    }
}

/// The security module's one error type.
package struct SecurityError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var location: String

    package init(_ message: String, file: String = #fileID, line: Int = #line) {
        self.message = message
        self.location = "\(file):\(line)"
    }

    package var description: String { message }
}
