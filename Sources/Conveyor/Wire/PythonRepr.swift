/// Celery's `saferepr` (`celery/utils/saferepr.py`) of JSON values, for the `argsrepr` and
/// `kwargsrepr` headers that Flower, events and logs show.
///
/// Not Python's `repr()`: strings are always single-quoted with only `'` escaped, containers
/// deeper than three levels print as `[...]`/`{...}`, and past `limit` characters strings are
/// cut at a word boundary with `...` while the open brackets still close. The algorithm is
/// Celery's token stream, followed step by step so the output matches byte for byte.
package enum PythonRepr {
    package static func arguments(_ args: [JSON], limit: Int = 1024) -> String {
        short(.tuple(args), maxlen: limit) ?? saferepr(.tuple(args), maxlen: limit)
    }

    /// One value, as Celery's `saferepr` prints a task's return value (`task-succeeded`'s
    /// `result`) or an argument.
    package static func value(_ value: JSON, limit: Int = 1024) -> String {
        short(.json(value), maxlen: limit) ?? saferepr(.json(value), maxlen: limit)
    }

    package static func keywords(_ kwargs: JSONObject, limit: Int = 1024) -> String {
        short(.json(.object(kwargs)), maxlen: limit) ?? saferepr(.json(.object(kwargs)), maxlen: limit)
    }

    /// The common case, quickly: when the whole text is shorter than `maxlen`, nothing is ever
    /// cut, and saferepr's stream prints exactly the plain rendering (with its depth limit).
    private static func short(_ node: Node, maxlen: Int) -> String? {
        var out = ""
        render(node, level: 0, into: &out)
        return out.unicodeScalars.count < maxlen ? out : nil
    }

    private static func render(_ node: Node, level: Int, into out: inout String) {
        switch node {
        case let .tuple(items):
            out += "("
            for (index, item) in items.enumerated() {
                if index > 0 { out += ", " }
                render(.json(item), level: level + 1, into: &out)
            }
            out += items.count == 1 ? ",)" : ")"
        case let .json(.string(s)):
            out += quote(s, .max)
        case let .json(.array(items)):
            if level >= maxLevels {
                out += "[...]"
                return
            }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += ", " }
                render(.json(item), level: level + 1, into: &out)
            }
            out += "]"
        case let .json(.object(object)):
            if level >= maxLevels {
                out += "{...}"
                return
            }
            out += "{"
            for (index, member) in object.enumerated() {
                if index > 0 { out += ", " }
                out += quote(member.key, .max)
                out += ": "
                render(.json(member.value), level: level + 1, into: &out)
            }
            out += "}"
        case let .json(value):
            out += scalarText(value)
        }
    }

    private static let maxLevels = 3

    private enum Node {
        case json(JSON)
        /// The positional-arguments tuple (JSON has no tuples).
        case tuple([JSON])
    }

    private struct Literal {
        let value: String
        /// Separators may be dropped when output is cut; brackets never are.
        let truncatable: Bool
        let direction: Int
    }

    private enum Item {
        case literal(Literal)
        case key(String)
        case value(Node)
        /// End-of-container marker (Celery's `_dirty`, for its recursion check).
        case dirty
    }

    private enum Token {
        case literal(Literal)
        case key(String)
        case quoted(String)
        case text(String)
    }

    /// An iterator over items, shared by the stream and its consumer like Python's.
    private final class Cursor {
        var items: [Item]
        var index = 0
        init(_ items: [Item]) { self.items = items }
        func next() -> Item? {
            guard index < items.count else { return nil }
            defer { index += 1 }
            return items[index]
        }
        var remaining: ArraySlice<Item> { items[index...] }
    }

    private static func saferepr(_ node: Node, maxlen: Int) -> String {
        var out = ""
        var budget = maxlen
        var stack: [Cursor] = [Cursor([.value(node)])]
        var level = 0
        var cut = false
        streaming: while !stack.isEmpty {
            let it = stack.removeFirst()
            while let item = it.next() {
                let token: Token
                switch item {
                case .dirty:
                    continue
                case let .literal(literal):
                    level += literal.direction
                    token = .literal(literal)
                case let .key(key):
                    token = .key(key)
                case let .value(.json(value)):
                    switch value {
                    case let .string(s):
                        token = .quoted(s)
                    case let .array(items):
                        if level >= maxLevels {
                            token = .text("[...]")
                        } else {
                            stack.append(Cursor([.literal(listStart)] + separated(items.map { .value(.json($0)) })
                                                + [.dirty, .literal(listEnd)] + Array(it.remaining)))
                            continue streaming
                        }
                    case let .object(object):
                        if level >= maxLevels {
                            token = .text("{...}")
                        } else {
                            var members: [Item] = []
                            for (index, member) in object.enumerated() {
                                members += [.key(member.key), .literal(keySeparator), .value(.json(member.value))]
                                if index < object.count - 1 { members.append(.literal(itemSeparator)) }
                            }
                            stack.append(Cursor([.literal(dictStart)] + members + [.dirty, .literal(dictEnd)] + Array(it.remaining)))
                            continue streaming
                        }
                    default:
                        token = .text(scalarText(value))
                    }
                case let .value(.tuple(items)):
                    let end = items.count == 1 ? tupleEndSingle : tupleEnd
                    stack.append(Cursor([.literal(tupleStart)] + separated(items.map { .value(.json($0)) })
                                        + [.dirty, .literal(end)] + Array(it.remaining)))
                    continue streaming
                }
                // The consumer: Celery 5.7's _saferepr.
                if budget <= 0 {
                    // The cut value was the last of its container: just close it (uncounted).
                    if case let .literal(literal) = token, literal.direction < 0 {
                        out += literal.value
                        continue
                    }
                    out += ", ..."
                    // The token goes back too: if it opens a container, the pass below must know.
                    var rest = Array(it.remaining)
                    if case let .literal(literal) = token { rest.insert(.literal(literal), at: 0) }
                    stack.append(Cursor(rest))
                    cut = true
                    break streaming
                }
                let text: String
                switch token {
                case let .literal(literal): text = literal.value
                case let .key(key), let .quoted(key): text = quote(key, budget)
                case let .text(value): text = truncate(value, budget)
                }
                out += text
                budget -= text.unicodeScalars.count
            }
        }
        if cut {
            // Dangling closers; a container opened after the limit is not shown, nor its closer.
            var depth = 0
            for cursor in stack {
                for case let .literal(literal) in cursor.remaining where !literal.truncatable {
                    depth += literal.direction
                    if depth < 0 {
                        depth = 0
                        out += literal.value
                    }
                }
            }
        }
        return out
    }

    private static let tupleStart = Literal(value: "(", truncatable: false, direction: 1)
    private static let tupleEnd = Literal(value: ")", truncatable: false, direction: -1)
    private static let tupleEndSingle = Literal(value: ",)", truncatable: false, direction: -1)
    private static let listStart = Literal(value: "[", truncatable: false, direction: 1)
    private static let listEnd = Literal(value: "]", truncatable: false, direction: -1)
    private static let dictStart = Literal(value: "{", truncatable: false, direction: 1)
    private static let dictEnd = Literal(value: "}", truncatable: false, direction: -1)
    private static let keySeparator = Literal(value: ": ", truncatable: true, direction: 0)
    private static let itemSeparator = Literal(value: ", ", truncatable: true, direction: 0)

    private static func separated(_ items: [Item]) -> [Item] {
        var out: [Item] = []
        for (index, item) in items.enumerated() {
            out.append(item)
            if index < items.count - 1 { out.append(.literal(itemSeparator)) }
        }
        return out
    }

    /// `str()` of a Python scalar.
    private static func scalarText(_ value: JSON) -> String {
        switch value {
        case .null: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(v): return String(v)
        case let .bigInt(digits): return digits
        case let .double(d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d < 0 ? "-inf" : "inf" }
            return JSONWriter.finiteText(d)
        default: return ""
        }
    }

    /// Celery's `_format_chars`: single quotes, only `'` escaped, truncated first.
    private static func quote(_ text: String, _ budget: Int) -> String {
        "'" + truncate(text, budget).replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// Celery's `celery.utils.text.truncate`: cut at `maxlen` code points, back to the last
    /// space, and mark with `...`.
    private static func truncate(_ text: String, _ maxlen: Int) -> String {
        let scalars = Array(text.unicodeScalars)
        guard maxlen > 0, scalars.count >= maxlen else { return text }
        var head = Array(scalars[0..<maxlen])
        if let space = head.lastIndex(of: " ") { head = Array(head[..<space]) }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: head)
        return String(out) + "..."
    }
}

private extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
