/// What `cat-file` knows of an object without reading it.
public struct ObjectInfo: Sendable, Hashable {
    /// The full object id (hex).
    public var id: String
    /// `commit`, `tree`, `blob` or `tag`.
    public var type: String
    /// Size in bytes.
    public var size: Int
}

/// Reads objects of one repository through a long-lived `git cat-file --batch-command --buffer`:
/// names resolved to ids (`info`), whole objects by id (`contents`), many per round trip.
///
/// Reading many objects keeps the bytes asked for at once under a cap (zoekt's pipelined
/// `cat-file` took memory spikes until it had one): sizes are learnt first, then objects are
/// asked for in groups that fit.
public final class ObjectReader: Sendable {
    private let process: GitProcess
    private let timeout: Double

    init(process: GitProcess, timeout: Double) {
        self.process = process
        self.timeout = timeout
    }

    /// Looks names up (ids, refs, `rev^{commit}` expressions); nil where git has no such object.
    /// Names must be validated by the caller: one line each, no newline.
    public func info(_ names: [String]) async throws -> [ObjectInfo?] {
        guard !names.isEmpty else { return [] }
        var input: [UInt8] = []
        for name in names { input += Array("info \(name)\n".utf8) }
        input += Array("flush\n".utf8)
        return try await process.request(input, timeout: timeout, InfoResponse(expected: names.count))
    }

    /// Reads whole objects by id, asking git for at most `maxBytesInFlight` of them at a time
    /// (an object bigger than that is read alone), and hands each to `body` in order.
    public func read(_ ids: [String], maxBytesInFlight: Int = 32 << 20,
                     _ body: (ObjectInfo, ArraySlice<UInt8>) async throws -> Void) async throws {
        let infos = try await info(ids)
        var group: [ObjectInfo] = []
        var groupBytes = 0
        for (id, found) in zip(ids, infos) {
            guard let found else { throw RepositoryError(.corruptRepository, "object \(id) is missing from the repository") }
            if !group.isEmpty && groupBytes + found.size > maxBytesInFlight {
                try await readGroup(group, body)
                group.removeAll()
                groupBytes = 0
            }
            group.append(found)
            groupBytes += found.size
        }
        if !group.isEmpty { try await readGroup(group, body) }
    }

    /// One object's content.
    public func content(of id: String) async throws -> (ObjectInfo, [UInt8]) {
        var result: (ObjectInfo, [UInt8])?
        try await read([id]) { info, bytes in result = (info, Array(bytes)) }
        guard let result else { throw RepositoryError(.corruptRepository, "object \(id) could not be read") }
        return result
    }

    private func readGroup(_ group: [ObjectInfo], _ body: (ObjectInfo, ArraySlice<UInt8>) async throws -> Void) async throws {
        var input: [UInt8] = []
        for object in group { input += Array("contents \(object.id)\n".utf8) }
        input += Array("flush\n".utf8)
        let contents = try await process.request(input, timeout: timeout, ContentsResponse(expected: group.count))
        for (object, bytes) in contents { try await body(object, bytes) }
    }
}

/// `info` answers: `<id> <type> <size>` or `<name> missing|ambiguous`.
final class InfoResponse: GitResponse, @unchecked Sendable {
    private let expected: Int
    private var answers: [ObjectInfo?] = []

    init(expected: Int) { self.expected = expected }

    func consume(_ buffer: inout ReadBuffer) throws -> [ObjectInfo?]? {
        while answers.count < expected, let line = buffer.line() {
            answers.append(try ObjectHeader.parse(line))
        }
        return answers.count == expected ? answers : nil
    }
}

/// `contents` answers: a header line, the object's bytes, a newline.
final class ContentsResponse: GitResponse, @unchecked Sendable {
    private let expected: Int
    private var pending: ObjectInfo?
    private var objects: [(ObjectInfo, ArraySlice<UInt8>)] = []

    init(expected: Int) { self.expected = expected }

    func consume(_ buffer: inout ReadBuffer) throws -> [(ObjectInfo, ArraySlice<UInt8>)]? {
        while objects.count < expected {
            if let header = pending {
                guard let body = buffer.take(header.size + 1) else { return nil }
                objects.append((header, body.dropLast()))
                pending = nil
            } else {
                guard let line = buffer.line() else { return nil }
                guard let header = try ObjectHeader.parse(line) else {
                    throw RepositoryError(.corruptRepository, "object \(String(decoding: line, as: UTF8.self)) vanished while it was read")
                }
                pending = header
            }
        }
        return objects
    }
}

enum ObjectHeader {
    /// Largest object accepted (git itself caps objects far lower in practice).
    static let maxSize = 1 << 34

    static func parse(_ line: ArraySlice<UInt8>) throws -> ObjectInfo? {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        if fields.count == 2, fields[1].elementsEqual("missing".utf8) || fields[1].elementsEqual("ambiguous".utf8) {
            return nil
        }
        guard fields.count == 3, let size = Int(String(decoding: fields[2], as: UTF8.self)), (0...maxSize).contains(size) else {
            throw RepositoryError(.gitFailed, "unexpected cat-file answer: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        return ObjectInfo(id: String(decoding: fields[0], as: UTF8.self), type: String(decoding: fields[1], as: UTF8.self), size: size)
    }
}
