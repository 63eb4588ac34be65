#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` series of this process, read from `/proc/self` at each scrape:
/// resident and virtual memory, CPU seconds, open and maximum file descriptors, start time.
public enum ProcessMetrics {
    /// The series in Prometheus' text format, with `# HELP` and `# TYPE`; a value `/proc` does
    /// not give is left out.
    public static func exposition() -> String {
        var out = ""
        func series(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        let stat = selfStat()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        series("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
               stat.map { Double($0.utime + $0.stime) / ticks })
        series("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", stat.map { Double($0.rss) * pageSize })
        series("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.map { Double($0.vsize) })
        series("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
               stat.flatMap { stat in bootTime().map { $0 + Double(stat.startTicks) / ticks } })
        series("process_open_fds", "gauge", "Number of open file descriptors.", openDescriptors())
        var limit = rlimit()
        series("process_max_fds", "gauge", "Maximum number of open file descriptors.",
               getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil)
        return out
    }

    private struct Stat {
        var utime: UInt64, stime: UInt64, startTicks: UInt64, vsize: UInt64, rss: Int64
    }

    /// `/proc/self/stat`: fields after the command name, which is in parentheses and may hold spaces.
    private static func selfStat() -> Stat? {
        guard let text = read("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
        guard fields.count > 21, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]),
              let start = UInt64(fields[19]), let vsize = UInt64(fields[20]), let rss = Int64(fields[21])
        else { return nil }
        return Stat(utime: utime, stime: stime, startTicks: start, vsize: vsize, rss: rss)
    }

    /// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
    private static func bootTime() -> Double? {
        read("/proc/stat")?.split(separator: "\n").first { $0.hasPrefix("btime ") }
            .flatMap { Double($0.dropFirst("btime ".count).trimmingCharacters()) }
    }

    private static func openDescriptors() -> Double? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        // Less the descriptor opendir itself holds.
        return Double(max(0, count - 1))
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

private extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return s
    }
}
