extension String {
    /// The text cut to at most `maxBytes` of UTF-8 at a scalar boundary, ending in "…" when cut,
    /// for values that must fit a fixed budget (header values, log fields).
    func cappedUTF8(_ maxBytes: Int) -> String {
        guard utf8.count > maxBytes else { return self }
        // No room for the ellipsis itself: a bare cut.
        let ellipsis = maxBytes >= 3 ? "…" : ""
        let limit = Swift.max(0, maxBytes - ellipsis.utf8.count)
        var result = String.UnicodeScalarView()
        var used = 0
        for scalar in unicodeScalars {
            let width = UTF8.width(scalar)
            guard used + width <= limit else { break }
            result.append(scalar)
            used += width
        }
        return String(result) + ellipsis
    }
}
