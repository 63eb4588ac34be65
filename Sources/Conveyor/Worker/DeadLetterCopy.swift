import AMQP
import Foundation

/// The properties of a dead letter, built to fit in one frame whatever the original carried.
///
/// The budget is what the publishing connection allows for properties: the frame size it
/// negotiated (131,072 bytes with RabbitMQ's default) less the content header's 20 bytes of
/// framing (`PublishLimits.propertiesBudget`). rabbitmq-c cannot split properties over frames,
/// and a copy that does not fit can never be published, so:
///
/// - the headers Conveyor adds are capped (the error at `maxErrorBytes`, names at 255 bytes);
/// - when the original's headers leave no room for them, the letter keeps only the original's
///   small headers (the task id first), says which were dropped, and its reason becomes
///   `headers-too-large` (the reason it would have had goes in `x-conveyor-original-reason`).
///
/// The body is never touched.
struct DeadLetterCopy {
    /// Where and by whom the message was given up on.
    struct Origin {
        let queue: String
        let exchange: String
        let routingKey: String
        let worker: String
        let time: Date
    }

    /// Longest `x-conveyor-error`, in UTF-8 bytes.
    static let maxErrorBytes = 1024
    /// Longest value of the other headers Conveyor adds.
    static let maxValueBytes = 255
    /// Largest original header (name, kind and value) a reduced letter may keep.
    static let maxKeptHeaderBytes = 256
    /// Room a message must leave in a frame for what Conveyor adds to its dead letter (at most
    /// about 2.3 KB) or changes on its retry copy (`eta`, `retries`). A message with less is
    /// refused as `headers-too-large` on arrival, before it runs.
    static let reserve = 4096
    /// Headers a reduced letter keeps first, if they are small: what identifies the task.
    private static let preferred = ["id", "task", "root_id", "parent_id", "group", "lang", "retries"]

    /// The letter's properties: the original's, persistent and without expiry, plus the reason headers.
    let properties: BasicProperties
    /// The reason the letter carries (`headers-too-large` when the original's headers were cut).
    let reason: RejectionReason

    /// - Parameters:
    ///   - original: the delivery's properties.
    ///   - reason: why it is dead-lettered.
    ///   - origin: where it came from and which worker gave up on it.
    ///   - budget: the most bytes the properties may take (`PublishLimits.propertiesBudget`).
    init(original: BasicProperties, reason: RejectionReason, origin: Origin, budget: Int) {
        var full = original
        full.deliveryMode = 2
        // A dead letter must not expire away in its queue.
        full.expiration = nil
        var headers = original.headers ?? [:]
        for entry in Self.added(reason: reason, origin: origin) { headers[entry.key] = entry.value }
        full.headers = headers
        if full.encodedSize <= budget {
            properties = full
            self.reason = reason
            return
        }
        (properties, self.reason) = Self.reduced(original: original, reason: reason, origin: origin, budget: budget)
    }

    /// Why a message that arrived with `size` bytes of properties cannot be handled.
    static func headersTooLarge(size: Int, budget: Int) -> RejectionReason {
        RejectionReason(code: "headers-too-large", detail: "properties and headers of \(size) bytes leave less than \(reserve) "
            + "of the \(budget) bytes one frame holds for the worker's own headers; the task was not run")
    }

    /// Whether a delivery's properties leave room for Conveyor's headers on its copies.
    static func fits(_ properties: BasicProperties, budget: Int) -> Bool {
        properties.encodedSize <= budget - reserve
    }

    private static func added(reason: RejectionReason, origin: Origin, errorBytes: Int = maxErrorBytes) -> FieldTable {
        [
            DeadLetterHeader.reason: .string(reason.code.cappedUTF8(maxValueBytes)),
            DeadLetterHeader.error: .string(reason.detail.cappedUTF8(errorBytes)),
            DeadLetterHeader.time: .string(ISO8601.format(origin.time)),
            DeadLetterHeader.queue: .string(origin.queue.cappedUTF8(maxValueBytes)),
            DeadLetterHeader.exchange: .string(origin.exchange.cappedUTF8(maxValueBytes)),
            DeadLetterHeader.routingKey: .string(origin.routingKey.cappedUTF8(maxValueBytes)),
            DeadLetterHeader.worker: .string(origin.worker.cappedUTF8(maxValueBytes)),
        ]
    }

    /// The letter with the original's small headers only, as many as fit, task id first.
    private static func reduced(original: BasicProperties, reason: RejectionReason, origin: Origin,
                                budget: Int) -> (BasicProperties, RejectionReason) {
        let originalHeaders = original.headers ?? [:]
        var base = original
        base.headers = nil
        base.deliveryMode = 2
        base.expiration = nil
        // Sized with a placeholder reason whose texts are as long as they can get.
        let placeholder = RejectionReason(code: "headers-too-large", detail: String(repeating: "x", count: maxErrorBytes))
        var fixed = added(reason: placeholder, origin: origin)
        fixed[DeadLetterHeader.originalReason] = .string(reason.code.cappedUTF8(maxValueBytes))
        var room = budget - base.encodedSize - fixed.encodedSize

        let entries = originalHeaders.entries.filter { !$0.key.hasPrefix("x-conveyor-") }
        let order = entries.indices.sorted { a, b in
            let rankA = preferred.firstIndex(of: entries[a].key) ?? preferred.count
            let rankB = preferred.firstIndex(of: entries[b].key) ?? preferred.count
            return rankA == rankB ? a < b : rankA < rankB
        }
        var kept = Set<Int>()
        for index in order {
            let size = 1 + entries[index].key.utf8.count + entries[index].value.encodedSize
            guard size <= maxKeptHeaderBytes, size <= room else { continue }
            kept.insert(index)
            room -= size
        }
        let dropped = entries.indices.filter { !kept.contains($0) }.map { entries[$0] }
        let droppedText = dropped.prefix(8).map { "\($0.key) (\(1 + $0.key.utf8.count + $0.value.encodedSize) bytes)" }
            .joined(separator: ", ") + (dropped.count > 8 ? ", …" : "")
        let tooLarge = RejectionReason(
            code: "headers-too-large",
            detail: "headers of \(originalHeaders.encodedSize) bytes leave no room for the dead-letter headers in one frame "
                + "(\(budget) bytes of properties); kept \(kept.count) of \(entries.count) headers, dropped \(droppedText); "
                + "original reason: \(reason.code): \(reason.detail)")

        var headers = FieldTable(entries.indices.filter { kept.contains($0) }.map { entries[$0] })
        for entry in added(reason: tooLarge, origin: origin) { headers[entry.key] = entry.value }
        if reason.code != tooLarge.code { headers[DeadLetterHeader.originalReason] = .string(reason.code.cappedUTF8(maxValueBytes)) }
        var letter = base
        letter.headers = headers
        if letter.encodedSize <= budget { return (letter, tooLarge) }

        // Only when the frame is absurdly small for the other properties (AMQP's minimum is
        // 4,096 bytes): the reason headers alone, with a short error.
        var minimal = BasicProperties(contentType: original.contentType.map { $0.cappedUTF8(maxValueBytes) },
                                      contentEncoding: original.contentEncoding.map { $0.cappedUTF8(maxValueBytes) },
                                      deliveryMode: 2)
        minimal.headers = added(reason: tooLarge, origin: origin, errorBytes: 128)
        return (minimal, tooLarge)
    }
}
