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
        // One (trigram, file) pair per distinct trigram of a file, sorted.
        var trigrams = DistinctTrigrams()
        var pairs: [UInt64] = []
        for file in indexed {
            contents[file].withUnsafeBytes { bytes in
                trigrams.forEach(in: bytes) { pairs.append(UInt64($0) << 32 | UInt64(file)) }
            }
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
                result = result.map { SortedLists.intersect($0, list) } ?? list
                if result?.isEmpty == true { return [] }
            }
            return result ?? everyFile
        case .or(let parts):
            var result: [Int32] = []
            for part in parts {
                if part == .all { return everyFile }
                result = SortedLists.union(result, evaluate(part))
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
}
