/// Masks the password in `url`, for logs and errors, even when the URL is malformed.
///
/// The user info is what comes before the last `@` after a leading `scheme://`, or after the
/// start of the text when it does not begin with one (as in `user:password@host`); its part
/// after the first `:` becomes `***`. That is done twice: first for the user info the URL parsers
/// read (up to the last `@` before the first `/` or `?`), then for the last `@` anywhere, which
/// covers a malformed URL whose password holds a `/` or `?`. A `password=` query value is masked
/// too, before (a mask of the user info may swallow the `?`) and after (a `?` in the user info
/// hid the query).
/// - Parameter bareInfoIsSecret: user info without `:` is a password (Redis), not a user name (AMQP).
public func maskingPassword(in url: String, bareInfoIsSecret: Bool) -> String {
    let parsersView = maskingUserInfo(in: maskingQueryPasswords(url), bareInfoIsSecret: bareInfoIsSecret, withinAuthority: true)
    return maskingQueryPasswords(maskingUserInfo(in: parsersView, bareInfoIsSecret: bareInfoIsSecret, withinAuthority: false))
}

/// Masks the passwords in a comma-separated list of URLs for logs and errors: those of each URL
/// of the list, and the one a parser reads when it takes the whole text as one URL, whose
/// password may hold a comma (`amqp://u:p@ss,word@host/` is one URL to `AMQPEndpoint(url:)`,
/// while the list splitter cuts it after `p@ss`).
/// - Parameter bareInfoIsSecret: user info without `:` is a password (Redis), not a user name (AMQP).
public func maskingPasswords(inList text: String, bareInfoIsSecret: Bool) -> String {
    let asOneURL = maskingUserInfo(in: text, bareInfoIsSecret: bareInfoIsSecret, withinAuthority: true)
    return splitURLList(asOneURL).map { maskingPassword(in: String($0), bareInfoIsSecret: bareInfoIsSecret) }.joined(separator: ",")
}

/// The user info before the last `@` (before the first `/` or `?` when `withinAuthority`) masked.
private func maskingUserInfo(in url: String, bareInfoIsSecret: Bool, withinAuthority: Bool) -> String {
    let text = url.firstIndex { !$0.isWhitespace } ?? url.endIndex
    let start = startsWithScheme(url[text...]) ? url.range(of: "://")?.upperBound ?? text : text
    var scope = url[start...]
    if withinAuthority, let end = scope.firstIndex(where: { $0 == "/" || $0 == "?" }) { scope = scope[..<end] }
    guard let at = scope.lastIndex(of: "@") else { return url }
    let info = url[start..<at]
    if let colon = info.firstIndex(of: ":") {
        return String(url[...colon]) + "***" + String(url[at...])
    } else if bareInfoIsSecret, !info.isEmpty {
        return String(url[..<start]) + "***" + String(url[at...])
    }
    return url
}

/// `password=…` query values as `password=***`.
private func maskingQueryPasswords(_ text: String) -> String {
    guard let query = text.firstIndex(of: "?") else { return text }
    let pairs = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
        pair.lowercased().hasPrefix("password=") ? "password=***" : String(pair)
    }
    return String(text[...query]) + pairs.joined(separator: "&")
}

/// Splits a comma-separated list of URLs. A comma is part of a password (not between URLs)
/// when it comes before the end of its URL's user info, i.e. nothing of `/ ?` since the URL's
/// `://` and no `@` after its first `:` (an `@` before it belongs to the user name, as in
/// `alice@example.com:pass`), an `@` still follows, and no new `scheme://` starts right after it.
public func splitURLList(_ text: String) -> [Substring] {
    var parts: [Substring] = []
    var partStart = text.startIndex
    var index = text.startIndex
    while let comma = text[index...].firstIndex(of: ",") {
        let next = text.index(after: comma)
        let part = text[partStart..<comma]
        let authority = part.range(of: "://").map { part[$0.upperBound...] } ?? part
        let password = authority.firstIndex(of: ":").map { authority[$0...] } ?? authority
        let following = text[next...]
        let inPassword = !authority.contains { "/?".contains($0) } && !password.contains("@") && following.contains("@")
            && !startsWithScheme(following.drop { $0.isWhitespace })
        if !inPassword {
            parts.append(part)
            partStart = next
        }
        index = next
    }
    parts.append(text[partStart...])
    return parts
}

/// Whether `text` begins with `scheme://` (RFC 3986: a letter, then letters, digits, `+ - .`).
public func startsWithScheme(_ text: Substring) -> Bool {
    guard let first = text.first, first.isASCII, first.isLetter, let end = text.range(of: "://") else { return false }
    return text[..<end.lowerBound].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
}
