import AMQP
import Conveyor
import Foundation

/// A delivery as a worker receives it: the content header's property section (decoded by
/// rabbitmq-c, as on a live connection) and the body, read by `TaskMessage.decode`. A message
/// that decodes is then written the way a worker writes one again (retries, dead letters, chain
/// steps) and read back: it must decode to the same task, and from the second write on, the
/// bytes settle (the first may change header kinds, see `FieldMeaning`).
///
/// Input: a big-endian UInt16 length, that many bytes of property section, then the body.
enum TaskMessageTarget {
    static func run(_ data: [UInt8]) {
        guard data.count >= 2 else { return }
        let length = Int(data[0]) << 8 | Int(data[1])
        guard data.count >= 2 + length, let properties = RabbitWire.decodeProperties(Array(data[2..<2 + length])) else { return }
        guard let first = decode(properties, Array(data[(2 + length)...])) else { return }
        touch(first)

        guard var second = rewritten(first) else { return }
        expectSame(second, as: first)
        // The wire carries microseconds, and far from 1970 a Double holds fewer: times were
        // compared to the millisecond; from here on they are the first message's.
        (second.eta, second.expires) = (first.eta, first.expires)
        guard var third = rewritten(second) else { return }
        (third.eta, third.expires) = (first.eta, first.expires)
        let (secondOut, thirdOut) = (second.outgoing(queue: "fuzz"), third.outgoing(queue: "fuzz"))
        check(thirdOut.body == secondOut.body, "the body still changes on its second write")
        check(RabbitWire.encodeProperties(thirdOut.properties) == RabbitWire.encodeProperties(secondOut.properties),
              "the properties still change on their second write")
    }

    private static func decode(_ properties: BasicProperties, _ body: [UInt8]) -> TaskMessage? {
        switch TaskMessage.decode(properties: properties, body: body) {
        case let .success(message):
            return message
        case let .failure(reason):
            _ = reason.description
            return nil
        }
    }

    /// The message as a worker publishes it again, through rabbitmq-c's encoder and decoder,
    /// decoded. A message the publish check refuses (a task id over 255 bytes cannot be the
    /// correlation id) fails that one publish, as a worker's would; one it lets through must be
    /// encoded, in exactly the size the check computed, and read back.
    private static func rewritten(_ message: TaskMessage) -> TaskMessage? {
        let out = message.outgoing(queue: "fuzz")
        let publishable = (try? PublishLimits().check(out)) != nil
        guard let section = RabbitWire.encodeProperties(out.properties) else {
            check(!publishable, "the publish check passes properties rabbitmq-c cannot encode: \(out.properties)")
            return nil
        }
        check(section.count == out.properties.encodedSize,
              "encodedSize is \(out.properties.encodedSize), rabbitmq-c wrote \(section.count) bytes")
        guard publishable else { return nil }
        guard let properties = RabbitWire.decodeProperties(section) else {
            check(false, "rabbitmq-c refuses the property section Conveyor wrote")
            return nil
        }
        switch TaskMessage.decode(properties: properties, body: out.body) {
        case let .success(decoded):
            return decoded
        case let .failure(reason):
            check(false, "a message Conveyor wrote does not decode: \(reason)")
            return nil
        }
    }

    /// Every field, as the writer promises to carry it: unset ids, reprs, origin, reply-to and
    /// priority are filled in, times move by less than a millisecond, JSON is compared as text
    /// (NaN is not equal to itself), headers by `FieldMeaning`.
    private static func expectSame(_ b: TaskMessage, as a: TaskMessage) {
        func same<T: Equatable>(_ x: T, _ y: T, _ name: String) { check(x == y, "\(name) changed: \(x) → \(y)") }
        func text(_ json: JSON?) -> [UInt8]? { json?.serialized(.compact) }
        func texts(_ signatures: [Signature]?) -> [[UInt8]]? { signatures?.map { JSON.object($0.json).serialized(.compact) } }
        same(b.id, a.id, "id")
        same(b.task, a.task, "task")
        same(text(.array(b.args)), text(.array(a.args)), "args")
        same(text(.object(b.kwargs)), text(.object(a.kwargs)), "kwargs")
        same(texts(b.callbacks), texts(a.callbacks), "callbacks")
        same(texts(b.errbacks), texts(a.errbacks), "errbacks")
        same(texts(b.chain), texts(a.chain), "chain")
        same(text(b.chord), text(a.chord), "chord")
        same(b.lang, a.lang, "lang")
        same(b.shadow, a.shadow, "shadow")
        check(close(b.eta, a.eta), "eta moved: \(String(describing: a.eta)) → \(String(describing: b.eta))")
        check(close(b.expires, a.expires), "expires moved: \(String(describing: a.expires)) → \(String(describing: b.expires))")
        same(b.group, a.group, "group")
        same(b.groupIndex, a.groupIndex, "group_index")
        same(b.retries, a.retries, "retries")
        same(b.timeLimit, a.timeLimit, "time limit")
        same(b.softTimeLimit, a.softTimeLimit, "soft time limit")
        same(b.rootId, a.rootId ?? a.id, "root_id")
        same(b.parentId, a.parentId, "parent_id")
        same(b.argsrepr, a.argsrepr ?? PythonRepr.arguments(a.args), "argsrepr")
        same(b.kwargsrepr, a.kwargsrepr ?? PythonRepr.keywords(a.kwargs), "kwargsrepr")
        check(a.origin == nil || b.origin == a.origin, "origin changed: \(String(describing: a.origin)) → \(String(describing: b.origin))")
        same(b.ignoreResult, a.ignoreResult, "ignore_result")
        same(b.replacedTaskNesting, a.replacedTaskNesting, "replaced_task_nesting")
        check(FieldMeaning.same(a.extraHeaders, b.extraHeaders), "custom headers changed: \(a.extraHeaders) → \(b.extraHeaders)")
        same(b.priority, a.priority ?? 0, "priority")
        check(a.replyTo == nil || b.replyTo == a.replyTo, "reply_to changed: \(String(describing: a.replyTo)) → \(String(describing: b.replyTo))")
        same(b.expiration, a.expiration, "expiration")
    }

    /// What a worker reads of a task besides its fields: canvas signatures and the logged name.
    private static func touch(_ message: TaskMessage) {
        _ = message.displayName
        for signature in (message.callbacks ?? []) + (message.errbacks ?? []) + (message.chain ?? []) {
            _ = (signature.task, signature.args, signature.kwargs, signature.options, signature.immutable,
                 signature.subtaskType, signature.taskId, signature.queue)
        }
        _ = message.chord?.unwrappingEnvelopes()
        _ = message.args.map { $0.unwrappingEnvelopes() }
    }

    private static func close(_ a: Date?, _ b: Date?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (a?, b?): return abs(a.timeIntervalSince1970 - b.timeIntervalSince1970) <= 0.001
        default: return false
        }
    }
}
