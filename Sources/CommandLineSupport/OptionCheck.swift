/// Range checks for numeric options, so every binary refuses an unusable number with the same
/// one line (`--prefetch must be in 1...65535, not 70000`) before anything converts it.
public enum OptionCheck {
    /// The complaint for `value` outside `range`, or nil when it is inside (or absent).
    /// NaN is outside every range.
    /// - Parameters:
    ///   - value: what the option holds.
    ///   - option: its name as typed, `--prefetch`.
    ///   - range: what it may hold.
    public static func outside<T: Comparable>(_ value: T?, _ option: String, _ range: ClosedRange<T>) -> String? {
        guard let value, !range.contains(value) else { return nil }
        return "\(option) must be in \(text(range.lowerBound))...\(text(range.upperBound)), not \(text(value))"
    }

    /// `86400` rather than `86400.0` for whole seconds.
    private static func text<T>(_ value: T) -> String {
        if let number = value as? Double, number.rounded() == number, abs(number) < 1e15 { return String(Int(number)) }
        return "\(value)"
    }
}
