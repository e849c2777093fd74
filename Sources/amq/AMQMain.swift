import AMQCommands
import Foundation
import Logging

/// The `amq` executable: bootstraps logging, runs the command tree, exits with its code.
@main
struct AMQMain {
    static func main() async {
        LoggingSystem.bootstrap { label in
            StreamLogHandler.standardError(label: label)
        }
        let code = await AMQCommand.run(arguments: Array(CommandLine.arguments.dropFirst()))
        exit(code)
    }
}
