/// Which files hold which folded trigram, for files held in memory: one sorted list of file
/// indices per trigram, answering `TrigramQuery`s by intersecting and merging them.
struct TrigramPostings: Sendable {
    /// Trigrams present, ascending.
    private let keys: [UInt32]
    /// `files[starts[i]..<starts[i + 1]]` hold `keys[i]`.
    private let starts: [Int]
    private let files: [Int32]
    /// Every file indexed (the answer to `.all`).
    private let everyFile: [Int32]

    /// Indexes `contents[i]` for each `i` in `indexed`.
    init(_ contents: [[UInt8]], indexed: [Int]) {
        // One (trigram, file) pair per distinct trigram of a file, sorted; a bitmap of the 2^24
        // trigrams drops repeats within a file and is cleared through the list of bits it set.
        var seen = [UInt64](repeating: 0, count: 1 << 18)
        var pairs: [UInt64] = []
        var touched: [UInt32] = []
        for file in indexed {
            contents[file].withUnsafeBufferPointer { bytes in
                guard bytes.count >= 3 else { return }
                var value = UInt32(Trigram.fold(bytes[0])) << 8 | UInt32(Trigram.fold(bytes[1]))
                for index in 2..<bytes.count {
                    value = (value << 8 | UInt32(Trigram.fold(bytes[index]))) & 0xFF_FFFF
                    let word = Int(value >> 6)
                    let bit = UInt64(1) << (value & 63)
                    if seen[word] & bit == 0 {
                        seen[word] |= bit
                        touched.append(value)
                        pairs.append(UInt64(value) << 32 | UInt64(file))
                    }
                }
            }
            for value in touched { seen[Int(value >> 6)] = 0 }
            touched.removeAll(keepingCapacity: true)
        }
        pairs.sort()
        var keys: [UInt32] = []
        var starts: [Int] = []
        var files: [Int32] = []
        files.reserveCapacity(pairs.count)
        for pair in pairs {
            let key = UInt32(pair >> 32)
            if keys.last != key {
                keys.append(key)
                starts.append(files.count)
            }
            files.append(Int32(truncatingIfNeeded: pair & 0xFFFF_FFFF))
        }
        starts.append(files.count)
        self.keys = keys
        self.starts = starts
        self.files = files
        everyFile = indexed.map { Int32($0) }
    }

    /// The indexed files that may match `query`, ascending.
    func evaluate(_ query: TrigramQuery) -> [Int32] {
        switch query {
        case .all: return everyFile
        case .none: return []
        case .trigram(let trigram): return postings(trigram.value)
        case .and(let parts):
            var result: [Int32]?
            for part in parts where part != .all {
                let list = evaluate(part)
                result = result.map { Self.intersect($0, list) } ?? list
                if result?.isEmpty == true { return [] }
            }
            return result ?? everyFile
        case .or(let parts):
            var result: [Int32] = []
            for part in parts {
                if part == .all { return everyFile }
                result = Self.union(result, evaluate(part))
            }
            return result
        }
    }

    private func postings(_ key: UInt32) -> [Int32] {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] < key { low = middle + 1 } else { high = middle }
        }
        guard low < keys.count, keys[low] == key else { return [] }
        return Array(files[starts[low]..<starts[low + 1]])
    }

    static func intersect(_ a: [Int32], _ b: [Int32]) -> [Int32] {
        var result: [Int32] = []
        var (i, j) = (0, 0)
        while i < a.count && j < b.count {
            if a[i] < b[j] { i += 1 } else if a[i] > b[j] { j += 1 } else {
                result.append(a[i])
                i += 1
                j += 1
            }
        }
        return result
    }

    static func union(_ a: [Int32], _ b: [Int32]) -> [Int32] {
        var result: [Int32] = []
        result.reserveCapacity(a.count + b.count)
        var (i, j) = (0, 0)
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
