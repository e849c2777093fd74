import AMQSecurity
import Logging
import ServiceLifecycle
import UnixSignals

/// Reads certificates and keys again on SIGHUP (the way operators rotate them, as with nginx):
/// new handshakes use the new ones, open connections keep theirs. A file that does not load is
/// logged and the old identity stays.
package struct TLSReloadService: Service {
    let materials: [TLSMaterial]
    let logger: Logger

    package init(materials: [TLSMaterial], logger: Logger) {
        self.materials = materials
        self.logger = logger
    }

    package func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                for material in materials {
                    do {
                        try material.reload()
                        logger.notice("TLS certificate reloaded", metadata: ["amq.tls.certificate": "\(material.files.certificateFile)"])
                    } catch {
                        logger.error("TLS certificate reload failed; the previous one stays in use", metadata: ["amq.error": "\(error)"])
                    }
                }
            }
        }
    }
}
