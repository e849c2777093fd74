import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// AWS Signature Version 4 for requests signed in the `Authorization` header.
///
/// Pure: the caller passes the request's parts and the signing time, and gets back the headers to
/// send plus every intermediate step (canonical request, string to sign), so the signer can be
/// checked against AWS's published examples. Paths are S3-style: each segment is URI-encoded once
/// and nothing is normalised (no `.`/`..` removal, no double encoding), which is what S3 verifies.
package struct SigV4: Sendable {
    /// What `x-amz-content-sha256` and the canonical request's last line say about the body.
    package enum Payload: Sendable {
        /// The body's bytes, hashed here.
        case bytes([UInt8])
        /// A body already hashed: lower-case hex SHA-256.
        case sha256(String)
        /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature (TLS protects it).
        case unsigned
    }

    /// The signed request's headers and the steps that produced them.
    package struct Signature: Sendable, Equatable {
        /// The caller's headers plus `x-amz-date`, `x-amz-content-sha256` (when sent),
        /// `x-amz-security-token` (with a session token) and `Authorization`.
        package var headers: HTTPHeaders
        package var canonicalRequest: String
        package var stringToSign: String
        /// Lower-case hex HMAC-SHA256 of the string to sign.
        package var signature: String
        package var authorization: String
    }

    package static let algorithm = "AWS4-HMAC-SHA256"
    package static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string.
    package static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    package var credentials: S3Credentials
    package var region: String
    package var service: String
    /// Whether to send and sign `x-amz-content-sha256`; S3 requires it, other services do not use it.
    package var sendsContentSHA256: Bool

    package init(credentials: S3Credentials, region: String, service: String = "s3", sendsContentSHA256: Bool? = nil) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.sendsContentSHA256 = sendsContentSHA256 ?? (service == "s3")
    }

    /// Signs one request.
    /// - Parameters:
    ///   - method: The HTTP method, upper case.
    ///   - path: The request path, not yet percent-encoded (`/bucket/a key`); sent as
    ///     ``encodePath(_:)`` returns it.
    ///   - query: Query parameters, not yet percent-encoded; sent as ``canonicalQuery(_:)`` returns them.
    ///   - headers: Every header to sign, `Host` included; all of them are signed.
    ///   - payload: The body, its hash, or `.unsigned`.
    ///   - date: The signing time; it must be within minutes of the server's clock.
    package func sign(
        method: String, path: String, query: [(String, String)] = [], headers: HTTPHeaders, payload: Payload, date: Date
    ) -> Signature {
        let (amzDate, day) = Self.timestamps(date)
        let payloadHash: String
        switch payload {
        case .bytes(let bytes): payloadHash = Self.hexSHA256(bytes)
        case .sha256(let hash): payloadHash = hash
        case .unsigned: payloadHash = Self.unsignedPayload
        }
        var headers = headers
        headers.replaceOrAdd(name: "x-amz-date", value: amzDate)
        if sendsContentSHA256 { headers.replaceOrAdd(name: "x-amz-content-sha256", value: payloadHash) }
        if let token = credentials.sessionToken { headers.replaceOrAdd(name: "x-amz-security-token", value: token) }

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers)
        let canonicalRequest = [
            method, Self.encodePath(path), Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [Self.algorithm, amzDate, scope, Self.hexSHA256(Array(canonicalRequest.utf8))].joined(separator: "\n")
        let signature = signature(for: stringToSign, day: day)
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        headers.replaceOrAdd(name: "Authorization", value: authorization)
        return Signature(
            headers: headers, canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            authorization: authorization
        )
    }

    /// Lower-case hex `HMAC(signingKey(day), stringToSign)`.
    func signature(for stringToSign: String, day: String) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey(day: day)))
    }

    /// `HMAC("AWS4" + secret, day)`, then region, service and `aws4_request` in turn.
    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    // MARK: Canonical forms

    /// The path as S3 wants it on the wire and in the canonical request: every byte but the
    /// unreserved ones (`A-Z a-z 0-9 - . _ ~`) and the `/` separators percent-encoded; empty means `/`.
    package static func encodePath(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { uriEncode(String($0)) }.joined(separator: "/")
    }

    /// `name=value` pairs, RFC 3986 encoded, sorted by encoded name then value, joined by `&`.
    package static func canonicalQuery(_ items: [(String, String)]) -> String {
        func precedes(_ left: String, _ right: String) -> Bool { Array(left.utf8).lexicographicallyPrecedes(Array(right.utf8)) }
        return items.map { (uriEncode($0.0), uriEncode($0.1)) }
            .sorted { $0.0 == $1.0 ? precedes($0.1, $1.1) : precedes($0.0, $1.0) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// One `name:value` line per header (names lower-cased and sorted, values trimmed with inner
    /// runs of spaces collapsed, repeated headers joined by commas in order), and the `;`-joined names.
    static func canonicalHeaders(_ headers: HTTPHeaders) -> (lines: String, signed: String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            values[name.lowercased(), default: []].append(collapseSpaces(value))
        }
        let names = values.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let lines = names.map { "\($0):\(values[$0, default: []].joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    static func collapseSpaces(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// RFC 3986 percent-encoding of everything but `A-Z a-z 0-9 - . _ ~`, with upper-case hex.
    package static func uriEncode(_ text: String) -> String {
        var encoded = ""
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += "%"
                encoded.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte >> 4)]))
                encoded.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte & 0x0F)]))
            }
        }
        return encoded
    }

    // MARK: Hashing and time

    package static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// The readable bytes' hash, without copying them.
    package static func hexSHA256(_ buffer: ByteBuffer) -> String {
        buffer.withUnsafeReadableBytes { hex(SHA256.hash(data: $0)) }
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var text = ""
        text.reserveCapacity(64)
        for byte in bytes {
            text.unicodeScalars.append(Unicode.Scalar(lowerHexDigits[Int(byte >> 4)]))
            text.unicodeScalars.append(Unicode.Scalar(lowerHexDigits[Int(byte & 0x0F)]))
        }
        return text
    }

    /// `20150830T123600Z` and `20150830`, in UTC.
    package static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let value = value ?? 0
            return value < 10 ? "0\(value)" : "\(value)"
        }
        let year = String(parts.year ?? 1970)
        let day = "\(String(repeating: "0", count: max(0, 4 - year.count)))\(year)\(two(parts.month))\(two(parts.day))"
        return ("\(day)T\(two(parts.hour))\(two(parts.minute))\(two(parts.second))Z", day)
    }
}

private let upperHexDigits = Array("0123456789ABCDEF".utf8)
private let lowerHexDigits = Array("0123456789abcdef".utf8)
