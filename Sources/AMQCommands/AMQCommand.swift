import AMQObjectStore
import AMQControlPlane
import AMQKafkaClient
import AMQSecurity
import ArgumentParser
import Foundation

/// The `amq` command tree.
public struct AMQCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "amq",
        abstract: "Run Kafka-compatible clusters on object storage with no cross-zone traffic.",
        discussion: """
            amq keeps a cluster's topology in a SQLite database and runs a controller and node agents \
            that speak the Kafka protocol. Start with a local cluster:

              amq quickstart
              amq cluster create demo --local --zones a,b,c --agents-per-zone 2
              amq topic create orders --partitions 12
              amq cluster status
            """,
        version: AMQVersion.current,
        subcommands: [
            ClusterCommand.self, ZoneCommand.self, NodeCommand.self, TopicCommand.self, PartitionCommand.self, AuditCommand.self,
            ProduceCommand.self, ConsumeCommand.self, GroupCommand.self, TrafficCommand.self, QuickstartCommand.self, ControllerCommand.self,
            AgentCommand.self, BenchCommand.self, UserCommand.self, ACLCommand.self,
        ]
    )

    public init() {}

    /// Exit codes: 0 success, 64 usage, 1 failure, 69 controller or brokers unreachable, 75 database locked.
    enum Exit {
        static let usage: Int32 = 64
        static let failure: Int32 = 1
        static let unavailable: Int32 = 69
        static let tempFail: Int32 = 75
    }

    /// Parses and runs `arguments`, printing errors as one line; returns the exit code.
    public static func run(arguments: [String]) async -> Int32 {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            return report(error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
            return 0
        } catch {
            return report(error)
        }
    }

    private static func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as ControlPlaneError:
            printError(error.message)
            switch error.code {
            case _ where error.isUsageError: return Exit.usage
            case .controllerUnreachable: return Exit.unavailable
            case .databaseLocked: return Exit.tempFail
            default: return Exit.failure
            }
        case let error as ObjectStoreError:
            printError(error.message)
            return error.code == .invalidConfiguration ? Exit.usage : Exit.failure
        case let error as KafkaClientError:
            printError(error.message)
            switch error.code {
            case .invalidArgument: return Exit.usage
            case .brokerUnreachable: return Exit.unavailable
            default: return Exit.failure
            }
        case let error as FleetError:
            printError(error.description)
            return Exit.failure
        case let error as SecurityError:
            // A certificate, key or listener given on the command line that does not work.
            printError(error.message)
            return Exit.usage
        case let error as ProcessControl.SpawnError:
            printError(error.description)
            return Exit.failure
        default:
            // ArgumentParser's own errors: usage, --help, --version, ExitCode.
            let message = fullMessage(for: error)
            let code = exitCode(for: error).rawValue
            if !message.isEmpty {
                if code == 0 {
                    Output.line(message)
                } else {
                    Output.write(message + "\n", to: .standardError)
                }
            }
            return code
        }
    }

    private static func printError(_ message: String) {
        Output.write("error: \(message)\n", to: .standardError)
    }
}

public enum AMQVersion {
    public static let current = "0.1.0"
}
