import Conveyor
import Yams

/// Reading YAML nodes as the schedule's types, each refusal naming the node's line.
extension ScheduleFile {
    static func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    /// The node's resolved tag (`!!str`, `!!int`, …).
    static func kind(_ node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.rawValue) }

    /// The pairs of a mapping with string keys, in order; refuses anything else and duplicate keys.
    static func mapping(_ node: Node, _ what: String) throws -> [(String, Node)] {
        guard case let .mapping(mapping) = node else { throw ScheduleError(line: line(node), "\(what) must be a mapping") }
        var pairs: [(String, Node)] = []
        var seen = Set<String>()
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else { throw ScheduleError(line: line(key), "\(what): keys must be plain strings") }
            guard seen.insert(scalar.string).inserted else { throw ScheduleError(line: line(key), "\(what): '\(scalar.string)' appears twice") }
            pairs.append((scalar.string, value))
        }
        return pairs
    }

    static func string(_ node: Node, _ what: String) throws -> String {
        guard case let .scalar(scalar) = node, kind(node) == .str || kind(node) == .int, !scalar.string.isEmpty else {
            throw ScheduleError(line: line(node), "\(what) must be a non-empty string")
        }
        guard scalar.string.utf8.count <= 1024 else { throw ScheduleError(line: line(node), "\(what) is longer than 1024 bytes") }
        return scalar.string
    }

    /// A finite number inside `range` (a whole one when `integer`).
    static func number(_ node: Node, _ what: String, _ range: ClosedRange<Double>, integer: Bool = false) throws -> Double {
        guard kind(node) == .int || kind(node) == .float, let value = node.float, value.isFinite else {
            throw ScheduleError(line: line(node), "\(what) must be a number, not '\(node.scalar?.string ?? "a \(node.tag)")'")
        }
        guard range.contains(value), !integer || value.rounded() == value else {
            throw ScheduleError(line: line(node), "\(what) must be \(integer ? "a whole number" : "a number") in \(range.lowerBound)...\(range.upperBound), not \(value)")
        }
        return value
    }

    /// A YAML node as JSON (args, kwargs): mappings with string keys, sequences and scalars.
    static func json(_ node: Node, depth: Int = 0) throws -> JSON {
        guard depth < 64 else { throw ScheduleError(line: line(node), "nested deeper than 64 levels") }
        switch node {
        case let .scalar(scalar):
            switch kind(node) {
            case .null: return .null
            case .bool: return node.bool.map(JSON.bool) ?? .string(scalar.string)
            case .int:
                guard let value = node.int else { throw ScheduleError(line: line(node), "'\(scalar.string)' is out of range") }
                return .int(Int64(value))
            case .float:
                guard let value = node.float, value.isFinite else { throw ScheduleError(line: line(node), "'\(scalar.string)' is not a finite number") }
                return .double(value)
            default: return .string(scalar.string)
            }
        case let .sequence(sequence):
            return .array(try sequence.map { try json($0, depth: depth + 1) })
        case .mapping:
            var object = JSONObject()
            for (key, value) in try mapping(node, "a mapping") { object[key] = try json(value, depth: depth + 1) }
            return .object(object)
        case .alias:
            throw ScheduleError(line: line(node), "aliases are not supported")
        }
    }

    /// A YAML syntax error as a line and a reason.
    static func translate(_ error: YamlError) -> ScheduleError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            return ScheduleError(line: mark.line, "YAML: \(problem)\(context.map { " \($0.text)" } ?? "")")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ScheduleError(line: context.mark.line, "YAML: duplicate keys \(duplicates.joined(separator: ", "))")
        default:
            return ScheduleError(line: 0, "YAML: \(error)")
        }
    }
}
