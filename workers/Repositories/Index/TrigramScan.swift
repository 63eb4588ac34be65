/// The distinct folded trigrams of one text at a time, for the index's segments and the
/// in-memory snapshots alike: a bitmap of all 2^24 trigrams drops repeats, and is cleared after
/// each text through the list of bits it set (no hashing, no allocation per text).
struct DistinctTrigrams {
    private var seen = [UInt64](repeating: 0, count: 1 << 18)
    private var found: [UInt32] = []

    /// Calls `body` once for each distinct trigram (packed, folded) of `bytes`, in order of
    /// first appearance.
    mutating func forEach(in bytes: UnsafeRawBufferPointer, _ body: (UInt32) -> Void) {
        guard bytes.count >= 3 else { return }
        seen.withUnsafeMutableBufferPointer { seen in
            var value = UInt32(Trigram.fold(bytes[0])) << 8 | UInt32(Trigram.fold(bytes[1]))
            for index in 2..<bytes.count {
                value = (value << 8 | UInt32(Trigram.fold(bytes[index]))) & 0xFF_FFFF
                let word = Int(value >> 6)
                let bit = UInt64(1) << (value & 63)
                if seen[word] & bit == 0 {
                    seen[word] |= bit
                    found.append(value)
                }
            }
            for value in found { seen[Int(value >> 6)] = 0 }
        }
        for value in found { body(value) }
        found.removeAll(keepingCapacity: true)
    }
}

/// Ascending lists of ordinals (files, blobs), merged as a trigram query's AND and OR need.
enum SortedLists {
    /// The values in both.
    static func intersect<T: BinaryInteger>(_ a: [T], _ b: [T]) -> [T] {
        var result: [T] = []
        result.reserveCapacity(min(a.count, b.count))
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                result.append(a[i])
                i += 1
                j += 1
            } else if a[i] < b[j] { i += 1 } else { j += 1 }
        }
        return result
    }

    /// The values in either, once each.
    static func union<T: BinaryInteger>(_ a: [T], _ b: [T]) -> [T] {
        if a.isEmpty { return b }
        if b.isEmpty { return a }
        var result: [T] = []
        result.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) {
                result.append(a[i])
                i += 1
            } else if i == a.count || b[j] < a[i] {
                result.append(b[j])
                j += 1
            } else {
                result.append(a[i])
                i += 1
                j += 1
            }
        }
        return result
    }
}
