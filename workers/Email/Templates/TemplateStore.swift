import Foundation
import Mustache
import Synchronization

/// The templates of `email.send`, from one directory: `NAME.subject.mustache`,
/// `NAME.txt.mustache` and optionally `NAME.html.mustache`, rendered with swift-mustache.
///
/// Variables are HTML-escaped in the HTML part only. A template is read and compiled at its
/// first use and kept; a worker restart (`kill -HUP`) picks up edits.
public final class TemplateStore: Sendable {
    /// What a missing variable renders as.
    public enum MissingVariables: String, Sendable, CaseIterable {
        /// The task fails, naming the variables (the default: a mail with holes is worse than none).
        case error
        /// Nothing, as Mustache does.
        case empty
    }

    /// One template's parts, compiled.
    struct Compiled: Sendable {
        var subject: MustacheTemplate
        var text: MustacheTemplate
        var html: MustacheTemplate?
    }

    /// Where the templates are read from.
    public let directory: URL
    /// What a missing variable does.
    public let missingVariables: MissingVariables
    private let cache = Mutex<[String: Compiled]>([:])

    /// The longest template name.
    static let maxNameLength = 128
    /// The largest template file read.
    static let maxFileBytes = 1 << 20

    /// - Parameters:
    ///   - directory: the templates directory.
    ///   - missingVariables: `.error` (the default) or `.empty`.
    /// - Throws: `EmailError.Code.configuration` when `directory` is not a readable directory.
    public init(directory: String, missingVariables: MissingVariables = .error) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EmailError(.configuration, "templates directory \(directory) does not exist or is not a directory")
        }
        self.directory = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        self.missingVariables = missingVariables
    }

    /// Renders `name` with `context`.
    /// - Returns: the subject (one line), the text part and the HTML part if the template has one.
    /// - Throws: `EmailError.Code.template` for an unknown or broken template or missing variables.
    func render(_ name: String, context: TemplateContext) throws -> (subject: String, text: String, html: String?) {
        let compiled = try template(name)
        let root = context.root()
        let subject = compiled.subject.render(root)
        let text = compiled.text.render(root)
        let html = compiled.html?.render(root)
        if missingVariables == .error, !root.missing.isEmpty {
            throw EmailError(.template, "template \(name): missing variables: \(root.missing.sorted().joined(separator: ", "))")
        }
        // A subject is one line: template line breaks become spaces.
        let line = subject.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (line.joined(separator: " "), text, html)
    }

    /// The compiled template `name`, read on first use.
    func template(_ name: String) throws -> Compiled {
        if let compiled = cache.withLock({ $0[name] }) { return compiled }
        guard !name.isEmpty, name.count <= Self.maxNameLength, !name.hasPrefix("."),
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }) else {
            throw EmailError(.invalidInput, "template name must be 1 to \(Self.maxNameLength) of A-Z a-z 0-9 _ - . not starting with '.', not \(EmailAddress.shown(name))")
        }
        guard let subject = try read(name, "subject"), let text = try read(name, "txt") else {
            throw EmailError(.template, "unknown template '\(name)': \(name).subject.mustache and \(name).txt.mustache are needed in \(directory.path)")
        }
        let compiled = Compiled(subject: try compile(subject, name, "subject", html: false),
                                text: try compile(text, name, "txt", html: false),
                                html: try read(name, "html").map { try compile($0, name, "html", html: true) })
        cache.withLock { $0[name] = compiled }
        return compiled
    }

    private func read(_ name: String, _ part: String) throws -> String? {
        let file = directory.appendingPathComponent("\(name).\(part).mustache")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw EmailError(.template, "template \(name).\(part) cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= Self.maxFileBytes else {
            throw EmailError(.template, "template \(name).\(part) is larger than \(Self.maxFileBytes) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw EmailError(.template, "template \(name).\(part) is not UTF-8") }
        return text
    }

    private func compile(_ text: String, _ name: String, _ part: String, html: Bool) throws -> MustacheTemplate {
        do {
            // Mustache escapes for HTML by default; the subject and text parts are plain text.
            return try MustacheTemplate(string: html ? text : "{{% CONTENT_TYPE: TEXT}}" + text)
        } catch {
            throw EmailError(.template, "template \(name).\(part) does not parse: \(error)")
        }
    }
}
