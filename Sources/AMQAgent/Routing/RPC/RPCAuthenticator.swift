import AMQControlPlane
import Crypto
import Foundation

/// Proves, in an RPC connection's first frame, that the caller holds the cluster secret without
/// sending it: an HMAC-SHA256 keyed by the secret over the caller's node id, zone, the time and
/// a random nonce. A hello more than `maxSkew` from the receiver's clock is refused, so a
/// recorded hello stops working soon after.
struct RPCAuthenticator: Sendable {
    let key: SymmetricKey
    static let maxSkew: TimeInterval = 300

    init(secret: ClusterSecret) {
        key = SymmetricKey(data: Data(secret.value.utf8))
    }

    func hello(nodeID: Int, zone: String, now: Date = Date()) -> HelloRequest {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let timestamp = Int64(now.timeIntervalSince1970 * 1000)
        return HelloRequest(nodeID: Int32(nodeID), zone: zone, timestampMs: timestamp, nonce: nonce, mac: mac(Int32(nodeID), zone, timestamp, nonce))
    }

    /// Nil when the hello is genuine and fresh; else why not.
    func refusal(of hello: HelloRequest, now: Date = Date()) -> String? {
        let skew = abs(now.timeIntervalSince1970 - Double(hello.timestampMs) / 1000)
        guard skew <= Self.maxSkew else { return "the hello is \(Int(skew)) s away from this agent's clock" }
        let expected = mac(hello.nodeID, hello.zone, hello.timestampMs, hello.nonce)
        guard expected.count == hello.mac.count, zip(expected, hello.mac).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else {
            return "the hello does not prove the cluster secret"
        }
        return nil
    }

    private func mac(_ nodeID: Int32, _ zone: String, _ timestamp: Int64, _ nonce: [UInt8]) -> [UInt8] {
        var message = Data("amq-rpc-1|\(nodeID)|\(zone)|\(timestamp)|".utf8)
        message.append(contentsOf: nonce)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
}
