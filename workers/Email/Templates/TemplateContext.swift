import Conveyor
import Mustache
import Synchronization

/// The `context` argument of `email.send` as Mustache sees it: objects are dictionaries,
/// arrays are lists, null is empty text.
struct TemplateContext: Sendable {
    let object: JSONObject

    /// Deepest nesting and most strings accepted.
    static let maxDepth = 32

    /// - Throws: `EmailError.Code.invalidInput` for text that was not UTF-8 (a lone surrogate
    ///   arrives as U+FFFD) or holds NUL, or nesting deeper than `maxDepth`.
    init(_ object: JSONObject) throws {
        try Self.check(.object(object), path: "context", depth: 0)
        self.object = object
    }

    /// A fresh root for one render, recording the names no level of the context had.
    func root() -> Root { Root(values: Self.value(.object(object)) as? [String: Any] ?? [:]) }

    /// The outermost context: every lookup that reaches it has missed every inner level.
    final class Root: MustacheParent, @unchecked Sendable {
        private let values: [String: Any]
        private let misses = Mutex<Set<String>>([])

        init(values: [String: Any]) { self.values = values }

        func child(named name: String) -> Any? {
            if let value = values[name] { return value }
            misses.withLock { _ = $0.insert(name) }
            return nil
        }

        /// Names looked up and found nowhere.
        var missing: Set<String> { misses.withLock { $0 } }
    }

    private static func value(_ json: JSON) -> Any {
        switch json {
        case .null: return ""
        case let .bool(flag): return flag
        case let .int(number): return Int(number)
        case let .bigInt(digits): return digits
        case let .double(number): return number
        case let .string(text): return text
        case let .array(items): return items.map(value)
        case let .object(members):
            var dictionary: [String: Any] = [:]
            for (key, item) in members { dictionary[key] = value(item) }
            return dictionary
        }
    }

    private static func check(_ json: JSON, path: String, depth: Int) throws {
        guard depth <= maxDepth else { throw EmailError(.invalidInput, "\(path): nested deeper than \(maxDepth) levels") }
        switch json {
        case let .string(text):
            if text.unicodeScalars.contains("\u{FFFD}") {
                throw EmailError(.invalidInput, "\(path): text is not valid UTF-8 (a lone surrogate or replacement character)")
            }
            if text.unicodeScalars.contains("\u{0}") { throw EmailError(.invalidInput, "\(path): text holds a NUL character") }
        case let .array(items):
            for (index, item) in items.enumerated() { try check(item, path: "\(path)[\(index)]", depth: depth + 1) }
        case let .object(members):
            for (key, item) in members { try check(item, path: "\(path).\(key)", depth: depth + 1) }
        default:
            break
        }
    }
}
