/// What a canvas signature becomes when applied: the messages to publish, and the chord sizes
/// to record before any of them is (Celery writes `.s` before the last header task goes out;
/// writing it first is as safe, and simpler).
struct CanvasPlan: Sendable {
    /// Each message with its queue, in publishing order.
    var messages: [(message: TaskMessage, queue: String)] = []
    /// Chords whose header tasks are among `messages`, with their size.
    var chordSizes: [(groupId: String, size: Int)] = []
}
