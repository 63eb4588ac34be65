import CommandLineSupport
import Conveyor
import Email
import Foundation
import Logging

extension WorkerCommand {
    /// Registers `email.send` with the settings of the flags and the environment; exits 2 on a
    /// bad one.
    func registerEmail(into registry: inout TaskRegistry, templates: String?, logger: Logger) {
        let environment = ProcessInfo.processInfo.environment
        guard let templates else { fail("the email family needs --templates or CONVEYOR_TEMPLATES") }
        if let problem = OptionCheck.outside(smtpConnections, "--smtp-connections", SMTPTransport.Options.connectionCounts) { fail(problem) }
        guard let missing = TemplateStore.MissingVariables(rawValue: missingVariables) else {
            fail("--missing-variables must be error or empty, not '\(missingVariables)'")
        }
        let url = environment["CONVEYOR_SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? SMTPEndpoint.defaultURL
        let sender = mailFrom ?? environment["CONVEYOR_MAIL_FROM"].flatMap { $0.isEmpty ? nil : $0 } ?? "conveyor@localhost"
        let service: EmailService
        do {
            var options = EmailOptions(templates: templates, endpoint: try SMTPEndpoint(url: url),
                                       defaultFrom: try EmailAddress(parsing: sender, role: "--mail-from"))
            options.missingVariables = missing
            options.transport.connections = smtpConnections
            for assignment in emailDomainLimit { try options.domainLimits.add(assignment) }
            if let hook = environment[EmailCrashHook.environmentVariable].flatMap({ $0.isEmpty ? nil : $0 }) {
                guard allowCrash else { fail("\(EmailCrashHook.environmentVariable) is a fault-test hook: it needs --allow-crash") }
                options.crashHook = try EmailCrashHook(parsing: hook)
                logger.warning("email fault hook armed: this worker will exit abruptly while sending", metadata: ["hook": "\(hook)"])
            }
            service = try EmailService(options: options, logger: logger)
        } catch {
            fail("email: \(error)")
        }
        EmailJobs.register(into: &registry, service: service)
        logger.info("registered the email family", metadata: ["templates": "\(templates)", "smtp": "\(service.options.endpoint)"])
    }
}
