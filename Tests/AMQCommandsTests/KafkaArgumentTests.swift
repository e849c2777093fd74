import AMQKafkaProtocol
import Testing

@testable import AMQCommands

/// The Kafka commands' flags; the client's own parsing is in AMQKafkaClientTests.
@Suite struct KafkaArgumentTests {
    @Test func keySeparatorSplitsAtTheFirstOccurrence() {
        let record = ProduceCommand.record(from: "user:42:clicked", separator: ":", timestamp: 5)
        #expect(record.key == Array("user".utf8))
        #expect(record.value == Array("42:clicked".utf8))
        #expect(ProduceCommand.record(from: "no separator", separator: ":", timestamp: 5).key == nil)
    }

    /// Bad flags fail before any connection is tried, with exit code 64 (usage).
    @Test(arguments: [
        ["produce", "t", "--acks", "2", "--bootstrap", "127.0.0.1:9092"],
        ["produce", "t", "--bootstrap", "nohost"],
        ["produce", "t", "--bootstrap", "127.0.0.1:99999"],
        ["consume", "t", "--group", "g", "--partition", "1", "--bootstrap", "127.0.0.1:9092"],
        ["consume", "t", "--count", "0", "--bootstrap", "127.0.0.1:9092"],
        ["group", "reset-offsets", "g", "--topic", "t", "--bootstrap", "127.0.0.1:9092"],
        ["group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest", "--bootstrap", "127.0.0.1:9092"],
    ])
    func badArgumentsExitWithUsage(_ arguments: [String]) async {
        #expect(await AMQCommand.run(arguments: arguments) == 64)
    }
}
