/// Why bytes from the wire could not be decoded. The associated strings name what was being read
/// (e.g. "ProduceRequest.TopicData") so a log line points at the field.
package enum KafkaProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(String)
    case invalidLength(String, Int)
    case invalidValue(String)
    case unsupportedVersion(apiKey: Int16, version: Int16)
    case unknownApiKey(Int16)
    case frameTooLarge(Int, limit: Int)
    case trailingBytes(Int)

    package var description: String {
        switch self {
        case .truncated(let what): "truncated while reading \(what)"
        case .invalidLength(let what, let length): "invalid length \(length) for \(what)"
        case .invalidValue(let what): "invalid value: \(what)"
        case .unsupportedVersion(let apiKey, let version): "unsupported version \(version) of api key \(apiKey)"
        case .unknownApiKey(let apiKey): "unknown api key \(apiKey)"
        case .frameTooLarge(let size, let limit): "frame size \(size) outside 0...\(limit)"
        case .trailingBytes(let count): "\(count) unread bytes after the message"
        }
    }
}
