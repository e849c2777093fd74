import Foundation
import NIOCore
import NIOHTTP1

/// Scheme, host and port of an S3 endpoint, parsed once.
struct S3Endpoint: Sendable, Equatable {
    var scheme: String
    /// As it appears in a URL: IPv6 addresses in brackets.
    var host: String
    var port: Int?

    init(_ text: String) throws(ObjectStoreError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = components.host, !host.isEmpty
        else {
            throw ObjectStoreError(.invalidConfiguration, "S3 endpoint \"\(text)\" is not an http(s) URL; \(ObjectStoreURL.example)")
        }
        self.scheme = scheme
        self.host = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        self.port = components.port
    }

    /// `host[:port]`, the port left out when it is the scheme's default (as HTTP clients send `Host`).
    func authority(subdomain: String?) -> String {
        let name = subdomain.map { "\($0).\(host)" } ?? host
        guard let port, port != (scheme == "https" ? 443 : 80) else { return name }
        return "\(name):\(port)"
    }
}

/// Where one request goes: the URL to send, its `Host`, and the unencoded path to sign.
package struct S3Target: Sendable, Equatable {
    package var url: String
    package var host: String
    package var path: String
}

/// One S3 call, before signing; sent as many times as the retry policy allows.
struct S3Request: Sendable {
    var method: HTTPMethod
    /// For logs and error messages: `GetObject`, `PutObject`, ….
    var operation: String
    /// The object's key relative to the store's prefix; nil for bucket-level calls.
    var key: String?
    var query: [(String, String)] = []
    var headers: HTTPHeaders = [:]
    var body: ByteBuffer?
    /// Hex SHA-256 of `body`, computed once for every attempt.
    var payloadHash = SigV4.emptyPayloadSHA256
    /// The most response-body bytes to read; object reads raise it.
    var responseLimit = 16 << 20
    /// Whether a 200 answer may still carry an `<Error>` document (CompleteMultipartUpload does).
    var errorsMayComeWith200 = false
    /// Whether 409 `ConditionalRequestConflict` (a concurrent conditional write) is worth sending again.
    var retriesConditionalConflicts = false

    init(_ method: HTTPMethod, operation: String, key: String?, body: ByteBuffer? = nil) {
        self.method = method
        self.operation = operation
        self.key = key
        if let body { setBody(body) }
    }

    mutating func setBody(_ body: ByteBuffer) {
        self.body = body
        payloadHash = SigV4.hexSHA256(body)
    }
}

/// An S3 answer with its body read and, for failures, the `<Error>` document's code and message.
struct S3Response: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
    var errorCode: String?
    var errorMessage: String?

    var isSuccess: Bool { (200..<300).contains(status.code) && errorCode == nil }

    init(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer, parsesErrorBody: Bool) {
        self.status = status
        self.headers = headers
        self.body = body
        guard parsesErrorBody, body.readableBytes > 0, let root = try? S3XML.parse(body), root.name == "Error" else { return }
        errorCode = root["Code"]
        errorMessage = root["Message"]
    }

    /// `503 SlowDown`, or just `503` when the body said nothing.
    var summary: String {
        "HTTP \(status.code)" + (errorCode.map { " \($0)" } ?? "")
    }
}

/// Parsing of the two timestamp forms S3 uses.
enum S3Timestamp {
    /// `2026-11-25T11:34:02.000Z` or `2026-11-25T11:34:02Z` (listings).
    static func iso8601(_ text: String) -> Date? {
        let parts = text.split(whereSeparator: { "-T:Z".contains($0) })
        guard parts.count >= 6, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            let hour = Int(parts[3]), let minute = Int(parts[4]), let seconds = Double(parts[5])
        else { return nil }
        return date(year: year, month: month, day: day, hour: hour, minute: minute, seconds: seconds)
    }

    /// `Wed, 25 Nov 2026 11:34:02 GMT` (the `Last-Modified` header).
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "," })
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count >= 7, let day = Int(parts[1]), let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]),
            let hour = Int(parts[4]), let minute = Int(parts[5]), let seconds = Double(parts[6])
        else { return nil }
        return date(year: year, month: month + 1, day: day, hour: hour, minute: minute, seconds: seconds)
    }

    private static func date(year: Int, month: Int, day: Int, hour: Int, minute: Int, seconds: Double) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let whole = seconds.rounded(.down)
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: Int(whole))
        return calendar.date(from: components).map { $0.addingTimeInterval(seconds - whole) }
    }
}
