import Conveyor

/// The arguments of `email.send(to, template, context={}, subject=null, from=null, reply_to=null,
/// headers={})`, checked: any problem is `EmailError.Code.invalidInput`, before anything is sent.
struct EmailRequest: Sendable {
    var to: [EmailAddress]
    var template: String
    var context: TemplateContext
    var subject: String?
    var from: EmailAddress?
    var replyTo: EmailAddress?
    var headers: [(name: String, value: String)]

    /// Most recipients of one message.
    static let maxRecipients = 100
    /// Longest subject or extra header value, in UTF-8 bytes.
    static let maxHeaderBytes = 998
    /// Most extra headers.
    static let maxHeaders = 50
    /// Headers `email.send` writes itself, which `headers` may not set.
    static let reservedHeaders: Set<String> = [
        "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "mime-version", "sender",
        "content-type", "content-transfer-encoding", "return-path", "received",
    ]

    init(_ task: TaskContext) throws {
        let given = { (index: Int, keyword: String) -> JSON? in
            let value = index < task.args.count ? task.args[index] : task.kwargs[keyword]
            return value.flatMap { $0.isNull ? nil : $0 }
        }
        guard task.args.count <= 7 else { throw EmailError(.invalidInput, "email.send takes at most 7 arguments, not \(task.args.count)") }
        let known: Set<String> = ["to", "template", "context", "subject", "from", "reply_to", "headers"]
        if let unknown = task.kwargs.map(\.key).first(where: { !known.contains($0) }) {
            throw EmailError(.invalidInput, "email.send got an unknown argument '\(unknown)'")
        }
        switch given(0, "to") {
        case let .string(one)?:
            to = [try EmailAddress(parsing: one, role: "to")]
        case let .array(many)?:
            to = try many.map { item in
                guard case let .string(text) = item else { throw EmailError(.invalidInput, "to: every recipient must be a string, not \(item.text(.compact).prefix(100))") }
                return try EmailAddress(parsing: text, role: "to")
            }
        case let other?:
            throw EmailError(.invalidInput, "to must be an address or a list of addresses, not \(other.text(.compact).prefix(100))")
        case nil:
            throw EmailError(.invalidInput, "email.send needs 'to'")
        }
        guard !to.isEmpty else { throw EmailError(.invalidInput, "to must name at least one recipient") }
        guard to.count <= Self.maxRecipients else { throw EmailError(.invalidInput, "to may name at most \(Self.maxRecipients) recipients, not \(to.count)") }
        guard case let .string(template)? = given(1, "template") else { throw EmailError(.invalidInput, "email.send needs 'template', a name") }
        self.template = template
        switch given(2, "context") {
        case let .object(object)?: context = try TemplateContext(object)
        case nil: context = try TemplateContext([:])
        case let other?: throw EmailError(.invalidInput, "context must be an object, not \(other.text(.compact).prefix(100))")
        }
        subject = try given(3, "subject").map { try Self.headerText($0, "subject") }
        from = try given(4, "from").map { try EmailAddress(parsing: try Self.string($0, "from"), role: "from") }
        replyTo = try given(5, "reply_to").map { try EmailAddress(parsing: try Self.string($0, "reply_to"), role: "reply_to") }
        headers = []
        switch given(6, "headers") {
        case let .object(object)?:
            guard object.count <= Self.maxHeaders else { throw EmailError(.invalidInput, "headers: at most \(Self.maxHeaders), not \(object.count)") }
            for (name, value) in object {
                guard !name.isEmpty, name.utf8.count <= 76, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                    throw EmailError(.invalidInput, "headers: invalid header name \(EmailAddress.shown(name)) (letters, digits and '-' only)")
                }
                guard !Self.reservedHeaders.contains(name.lowercased()) else {
                    throw EmailError(.invalidInput, "headers: \(name) is set by email.send itself (use the argument of that name)")
                }
                headers.append((name, try Self.headerText(value, "headers.\(name)")))
            }
        case nil: break
        case let other?: throw EmailError(.invalidInput, "headers must be an object of names to strings, not \(other.text(.compact).prefix(100))")
        }
    }

    private static func string(_ value: JSON, _ what: String) throws -> String {
        guard case let .string(text) = value else { throw EmailError(.invalidInput, "\(what) must be a string, not \(value.text(.compact).prefix(100))") }
        return text
    }

    /// A header value: one line of text, no control characters.
    static func headerText(_ value: JSON, _ what: String) throws -> String {
        let text = try string(value, what)
        try checkHeaderText(text, what)
        return text
    }

    static func checkHeaderText(_ text: String, _ what: String) throws {
        if text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw EmailError(.invalidInput, "\(what): CR or LF in a header value (header injection): \(EmailAddress.shown(text))")
        }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" }) {
            throw EmailError(.invalidInput, "\(what): control characters in a header value: \(EmailAddress.shown(text))")
        }
        if text.unicodeScalars.contains("\u{FFFD}") {
            throw EmailError(.invalidInput, "\(what): text is not valid UTF-8 (a lone surrogate or replacement character)")
        }
        guard text.utf8.count <= maxHeaderBytes else {
            throw EmailError(.invalidInput, "\(what): at most \(maxHeaderBytes) bytes, not \(text.utf8.count)")
        }
    }
}
