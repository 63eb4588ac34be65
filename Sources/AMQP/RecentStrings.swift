import IOSupport

/// The long strings a connection decoded lately, handed out again when the same bytes come
/// back, so that a repeated string costs no allocation.
///
/// A string of up to 15 UTF-8 bytes lives inside the `String` value itself; a longer one is
/// a heap allocation each time it is decoded. A Celery task brings the same long strings
/// again and again: its id is also its `correlation_id` and, for a task that starts a
/// workflow, its `root_id`; its `origin`, `reply_to`, consumer tag and often its queue are the
/// same for every delivery of a connection. Only strings whose UTF-8 is exactly the bytes on
/// the wire are kept (a repaired or cut one never matches), so a string served from here is
/// always the one a fresh decode would make.
///
/// Owned by one connection loop and used only on the thread that steps it.
struct RecentStrings {
    /// How many strings are kept; the least recently used one makes room for a new one.
    static let capacity = 12
    /// At most this many bytes are stored in place (no allocation to save).
    static let inlineLimit = 15
    /// Longer strings (a header's long string can be megabytes) are neither looked up nor kept:
    /// what repeats is ids and names, and keeping a large value would hold its memory.
    static let keptLimit = 255

    private var strings: [String] = []
    private var lastUse: [UInt64] = []
    private var clock: UInt64 = 0

    init() {
        strings.reserveCapacity(Self.capacity)
        lastUse.reserveCapacity(Self.capacity)
    }

    /// The bytes as a string, repaired with U+FFFD where they are not UTF-8 (`amqp_bytes_t.string`).
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        if let known = recent(bytes) { return known }
        return remember(String(decoding: bytes, as: UTF8.self), bytes)
    }

    /// The bytes as a string when they are UTF-8, else nil.
    mutating func validated(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if let known = recent(bytes) { return known }
        guard let made = String(validatingUTF8Bytes: bytes) else { return nil }
        return remember(made, bytes)
    }

    /// A kept string spelled by exactly these bytes.
    private mutating func recent(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count > Self.inlineLimit, bytes.count <= Self.keptLimit else { return nil }
        guard let index = strings.firstIndex(where: { $0.hasUTF8(bytes) }) else { return nil }
        clock &+= 1
        lastUse[index] = clock
        return strings[index]
    }

    /// Keeps `made` when it is long and spells `bytes` exactly; returns it either way.
    private mutating func remember(_ made: String, _ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.count > Self.inlineLimit, bytes.count <= Self.keptLimit, made.hasUTF8(bytes) else { return made }
        clock &+= 1
        if strings.count < Self.capacity {
            strings.append(made)
            lastUse.append(clock)
        } else if let oldest = lastUse.indices.min(by: { lastUse[$0] < lastUse[$1] }) {
            strings[oldest] = made
            lastUse[oldest] = clock
        }
        return made
    }
}
