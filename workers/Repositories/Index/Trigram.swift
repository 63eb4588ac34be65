/// Three bytes of text, ASCII letters folded to lower case, packed into the low 24 bits.
///
/// The index keeps folded trigrams only, so one index serves case-sensitive and
/// case-insensitive search alike: a case-sensitive query asks for the folded trigrams of its
/// literal (a superset of the files that match) and verification decides. Bytes outside ASCII
/// are kept as they are; a case-insensitive query cannot use a trigram holding a non-ASCII
/// letter (its other case has other bytes), so the planner drops such trigrams.
public struct Trigram: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8) {
        value = UInt32(Self.fold(a)) << 16 | UInt32(Self.fold(b)) << 8 | UInt32(Self.fold(c))
    }

    public init(packed value: UInt32) { self.value = value & 0xFF_FFFF }

    /// ASCII `A`–`Z` to `a`–`z`; every other byte unchanged.
    @inline(__always)
    public static func fold(_ byte: UInt8) -> UInt8 { byte &- 65 < 26 ? byte | 0x20 : byte }

    public static func < (lhs: Trigram, rhs: Trigram) -> Bool { lhs.value < rhs.value }

    public var description: String {
        let bytes = [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        return String(decoding: bytes, as: UTF8.self).debugDescription
    }
}

/// Which files may match, as a boolean formula over trigrams (Russ Cox, "Regular Expression
/// Matching with a Trigram Index"): the search plans one from its query, the index answers it.
public indirect enum TrigramQuery: Sendable, Hashable {
    /// Every file (the query gives the index nothing to narrow with).
    case all
    /// No file.
    case none
    /// Files holding this trigram.
    case trigram(Trigram)
    /// Files matching every part.
    case and([TrigramQuery])
    /// Files matching any part.
    case or([TrigramQuery])
}
