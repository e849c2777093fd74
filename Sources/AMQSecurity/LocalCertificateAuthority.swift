import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority for a local cluster (`amq cluster create --local --tls`):
/// a CA and one certificate it signs, valid as server and client certificate for localhost and
/// the given addresses, written as PEM files with the keys 0600.
package enum LocalCertificateAuthority {
    package struct Files: Sendable, Codable, Hashable {
        package var caFile: String
        package var certificateFile: String
        package var keyFile: String
    }

    /// Writes `ca.pem`, `ca-key.pem`, `node.pem` and `node-key.pem` into `directory`.
    package static func create(in directory: String, hosts: [String], commonName: String, validity: TimeInterval = 825 * 86_400) throws(SecurityError) -> Files {
        do {
            let now = Date()
            let caKey = P256.Signing.PrivateKey()
            let caName = try DistinguishedName {
                OrganizationName("amq")
                CommonName("\(commonName) local CA")
            }
            let caKeyID = keyIdentifier(caKey.publicKey)
            let ca = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + validity, issuer: caName, subject: caName,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(keyIdentifier: caKeyID[...])
                },
                issuerPrivateKey: .init(caKey)
            )
            let nodeKey = P256.Signing.PrivateKey()
            var names: [GeneralName] = [.dnsName("localhost")]
            for host in Set(hosts + ["127.0.0.1"]).sorted() {
                if let bytes = ipv4Bytes(host) {
                    names.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
                } else if host != "localhost" {
                    names.append(.dnsName(host))
                }
            }
            let sans = names
            let node = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(nodeKey.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + validity, issuer: caName,
                subject: try DistinguishedName {
                    OrganizationName("amq")
                    CommonName(commonName)
                },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames(sans)
                    SubjectKeyIdentifier(keyIdentifier: keyIdentifier(nodeKey.publicKey)[...])
                    AuthorityKeyIdentifier(keyIdentifier: caKeyID[...])
                },
                issuerPrivateKey: .init(caKey)
            )
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let files = Files(caFile: directory + "/ca.pem", certificateFile: directory + "/node.pem", keyFile: directory + "/node-key.pem")
            try write(try ca.serializeAsPEM().pemString, to: files.caFile, mode: 0o644)
            try write(caKey.pemRepresentation, to: directory + "/ca-key.pem", mode: 0o600)
            try write(try node.serializeAsPEM().pemString, to: files.certificateFile, mode: 0o644)
            try write(nodeKey.pemRepresentation, to: files.keyFile, mode: 0o600)
            return files
        } catch let error as SecurityError {
            throw error
        } catch {
            throw SecurityError("cannot create the local CA in \(directory): \(error)")
        }
    }

    static func keyIdentifier(_ key: P256.Signing.PublicKey) -> [UInt8] {
        Array(Insecure.SHA1.hash(data: key.x963Representation))
    }

    static func ipv4Bytes(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".")
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }

    /// Creates the file with `mode` before any byte is written, so a key is never readable by others.
    package static func write(_ text: String, to path: String, mode: Int) throws {
        try? FileManager.default.removeItem(atPath: path)
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: mode]) else {
            throw SecurityError("cannot create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }
}
