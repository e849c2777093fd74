import Foundation

/// Where a cluster's files live under its data directory:
///
/// ```
/// DIR/secret                 cluster secret (mode 0600)
/// DIR/objects/               the local object store (file:// default)
/// DIR/run/controller.pid     pid files of local processes
/// DIR/run/agent-N.pid
/// DIR/logs/controller.log    their stdout and stderr
/// DIR/logs/agent-N.log
/// ```
struct FleetLayout: Sendable {
    let directory: String

    var secretFile: String { directory + "/secret" }
    var objectsDirectory: String { directory + "/objects" }
    var runDirectory: String { directory + "/run" }
    var logsDirectory: String { directory + "/logs" }
    var controllerPIDFile: String { runDirectory + "/controller.pid" }
    /// The port the controller last listened on, so a restarted one takes it again.
    var controllerPortFile: String { runDirectory + "/controller.port" }
    var controllerLog: String { logsDirectory + "/controller.log" }
    func agentPIDFile(_ node: Int) -> String { runDirectory + "/agent-\(node).pid" }
    func agentLog(_ node: Int) -> String { logsDirectory + "/agent-\(node).log" }

    static func clusterDirectory(dataDir: String, cluster: String) -> String {
        dataDir + "/clusters/" + cluster
    }
}
