import Conveyor
import Email
import Foundation
import Logging
import TestSupport

/// A worker in the test process with `email.send` registered against a private sink, the
/// templates of `templates` in a directory of its own, and a client on its queue.
final class EmailHarness: Sendable {
    let sink: PrivateSink
    let templates: URL
    let worker: TestWorker
    let client: ConveyorClient
    let service: EmailService
    let logs: LogRecorder

    /// The welcome template: subject, text and HTML.
    static let welcome: [String: String] = [
        "welcome.subject.mustache": "Welcome, {{name}}!\n",
        "welcome.txt.mustache": "Hello {{name}},\n\nYour repository {{repo}} was indexed.\n.a line that starts with a dot\n",
        "welcome.html.mustache": "<p>Hello <b>{{name}}</b>, {{repo}} was indexed.</p>\n",
        "plain.subject.mustache": "Plain {{n}}",
        "plain.txt.mustache": "Number {{n}}.\n",
        "broken.subject.mustache": "Broken",
        "broken.txt.mustache": "{{#open}} never closed\n",
    ]

    init(label: String, templates files: [String: String] = EmailHarness.welcome, configure: (inout EmailOptions) throws -> Void = { _ in }) async throws {
        try TestEnvironment.requireServices()
        sink = try await PrivateSink()
        templates = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: templates.appendingPathComponent(name)) }
        var options = EmailOptions(templates: templates.path, endpoint: try SMTPEndpoint(url: sink.url),
                                   defaultFrom: try EmailAddress(parsing: "Conveyor <noreply@conveyor.test>", role: "from"))
        options.transport.connections = 2
        // The worker runs inside the test process, beside the whole suite: under a loaded machine
        // its lock renewals can be late by more than the production lease (a soak run under two
        // CPU hogs lost a 20 s one). No test here waits for a send lock to run out.
        options.sendLeaseSeconds = 600
        try configure(&options)
        logs = LogRecorder()
        let service = try EmailService(options: options, logger: Logger(label: "test.email"))
        self.service = service
        let queue = TestEnvironment.uniqueQueue(label)
        worker = try await TestWorker(queue: queue, logs: logs) { registry in EmailJobs.register(into: &registry, service: service) }
        client = try testClient(queue: queue)
    }

    /// Sends `email.send` with these keyword arguments.
    func send(_ kwargs: JSONObject, options: TaskOptions = .init()) async throws -> TaskHandle {
        try await client.send(taskNamed: EmailJobs.send, kwargs: kwargs, options: options)
    }

    /// Stops the worker and the connections; removes the templates.
    func stop() async throws {
        try await worker.stop()
        service.close()
        await client.close()
        try? FileManager.default.removeItem(at: templates)
    }
}
