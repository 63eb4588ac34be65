import ArgumentParser
import Conveyor
import Foundation

/// `conveyor munin`: Munin plugins. Run with no argument Munin fetches values, with `config` it
/// asks for the graph, with `autoconf` whether the plugin can work here.
struct MuninCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "munin", abstract: "Munin plugins (fetch, config, autoconf).",
        subcommands: [Queue.self])

    struct Queue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "queue", abstract: "Messages waiting and dead letters per queue, one graph.",
            discussion: "Without --queue the queues are those the fleet uses (recorded in Redis).")

        @OptionGroup var plugin: PluginOptions

        @Argument(help: "config or autoconf; none to fetch the values.")
        var mode: Mode?

        @Option(name: .customLong("queue"), help: "A queue to graph (repeatable; default: every queue the fleet uses).")
        var queues: [String] = []

        enum Mode: String, ExpressibleByArgument {
            case config, autoconf
        }

        func validate() throws {
            for queue in queues where queue.isEmpty || queue.utf8.count > 255 { throw ValidationError("--queue must be 1 to 255 bytes") }
        }

        func run() async throws {
            let client = plugin.client(service: "MUNIN")
            let (mode, named) = (mode, queues)
            let answer = await withDeadline(plugin.timeout) { () async throws -> [String] in
                if mode == .autoconf {
                    do { try await client.connectBroker() } catch { return ["no (\(pluginMessage(error)))"] }
                    return ["yes"]
                }
                try await client.connectBroker()
                let fleet = Fleet(client: client)
                let names = named.isEmpty ? try await fleet.queueNames() : named
                if mode == .config { return Self.config(names) }
                var lines: [String] = []
                for name in names {
                    let report = try await fleet.queue(name)
                    lines.append("\(Self.field(name))_ready.value \(report.map { String($0.ready) } ?? "U")")
                    // No dead-letter queue yet (it is made with the first dead letter): none kept.
                    lines.append("\(Self.field(name))_dead.value \(report.map { String($0.deadLetters ?? 0) } ?? "U")")
                }
                return lines
            }
            switch answer {
            case .success(let lines):
                finish(lines.joined(separator: "\n"), 0)
            case .failure(let error):
                // autoconf always answers on standard output and exits 0, as Munin expects.
                if mode == .autoconf { finish("no (\(pluginMessage(error)))", 0) }
                FileHandle.standardError.write(Data("conveyor: \(pluginMessage(error))\n".utf8))
                Foundation.exit(1)
            }
        }

        /// The graph: one line per queue for messages waiting and one for its dead letters.
        static func config(_ names: [String]) -> [String] {
            var lines = ["graph_title Conveyor queues", "graph_vlabel messages", "graph_category conveyor",
                         "graph_args --base 1000 -l 0", "graph_info Messages waiting in each queue and in its dead-letter queue."]
            for name in names {
                let field = field(name)
                lines += ["\(field)_ready.label \(name) waiting", "\(field)_ready.min 0", "\(field)_ready.draw LINE2",
                          "\(field)_dead.label \(name) dead letters", "\(field)_dead.min 0", "\(field)_dead.draw LINE1"]
            }
            return lines
        }

        /// A Munin field name: letters, digits and `_`, not starting with a digit; other bytes
        /// become `_`, and a hash of the name keeps two queues that differ only there apart.
        static func field(_ name: String) -> String {
            let cleaned = String(name.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_") ? Character(scalar) : "_"
            })
            guard cleaned != name else { return cleaned.first?.isNumber == true ? "q_" + cleaned : cleaned }
            var hash: UInt32 = 2_166_136_261
            for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
            return "q_" + cleaned + "_" + String(hash, radix: 16)
        }
    }
}
