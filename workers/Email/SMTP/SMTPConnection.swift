import CCurl
import Foundation
import IOSupport
import Logging
import Synchronization

/// One SMTP connection, driven by libcurl on its own I/O thread.
///
/// The easy handle lives and dies on that thread; other threads only push sends into its
/// `CommandQueue`. libcurl keeps the connection open between transfers of the same handle, so
/// consecutive messages share one SMTP session (EHLO and AUTH once).
final class SMTPConnection: Sendable {
    enum Command: Sendable {
        case send(SMTPEnvelope, @Sendable (Result<SMTPReceipt, EmailError>) -> Void)
        case close
    }

    private let queue: CommandQueue<Command>
    /// Connections opened so far (libcurl's `CURLINFO_NUM_CONNECTS` summed): 1 while the
    /// server keeps the session open.
    let opened = OpenedConnections()

    /// Starts the thread. `timeouts` are seconds: connecting, and one whole message.
    init(endpoint: SMTPEndpoint, connectTimeout: Double, sendTimeout: Double, name: String, logger: Logger) throws {
        queue = try CommandQueue()
        let queue = self.queue
        let opened = self.opened
        IOThread.start(name: name) {
            let session = CurlSession(endpoint: endpoint, connectTimeout: connectTimeout, sendTimeout: sendTimeout, logger: logger)
            session.opened = opened
            session.serve(queue)
        }
    }

    /// Sends one message; completes on the I/O thread.
    func send(_ envelope: SMTPEnvelope, completion: @escaping @Sendable (Result<SMTPReceipt, EmailError>) -> Void) {
        if !queue.push(.send(envelope, completion)) {
            completion(.failure(EmailError(.connection, "the SMTP connection is closed")))
        }
    }

    /// Ends the session (QUIT) once the messages queued before are sent.
    func close() {
        queue.push(.close)
    }
}

/// The easy handle and what it reports; touched only by the connection's thread.
private final class CurlSession {
    let endpoint: SMTPEndpoint
    let connectTimeout: Double
    let sendTimeout: Double
    let logger: Logger
    let transcript = SMTPTranscript()
    var upload = Upload()
    var opened: OpenedConnections?

    init(endpoint: SMTPEndpoint, connectTimeout: Double, sendTimeout: Double, logger: Logger) {
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.sendTimeout = sendTimeout
        self.logger = logger
    }

    /// Serves sends until `close`. libcurl is loaded and the easy handle made at the first
    /// message, not before: a worker that sends no mail never maps libcurl.
    func serve(_ queue: CommandQueue<Command>) {
        var handle: UnsafeMutableRawPointer?
        defer { if let handle { conveyor_curl_easy_cleanup(handle) } }
        while true {
            queue.sleep(timeoutMilliseconds: -1)
            for command in queue.takeAll() {
                switch command {
                case let .send(envelope, completion):
                    switch openHandle(&handle) {
                    case let .success(ready): completion(send(envelope, on: ready))
                    case let .failure(error): completion(.failure(error))
                    }
                case .close:
                    for case let .send(_, completion) in queue.close() {
                        completion(.failure(EmailError(.connection, "the SMTP connection is closed")))
                    }
                    return
                }
            }
        }
    }

    /// The easy handle, made (and configured) the first time; libcurl loaded before it.
    private func openHandle(_ handle: inout UnsafeMutableRawPointer?) -> Result<UnsafeMutableRawPointer, EmailError> {
        if let handle { return .success(handle) }
        if let failure = Libcurl.load() { return .failure(EmailError(.connection, failure)) }
        guard let made = conveyor_curl_easy_init() else {
            return .failure(EmailError(.connection, "libcurl could not make a handle"))
        }
        configure(made)
        handle = made
        return .success(made)
    }

    typealias Command = SMTPConnection.Command

    /// What stays the same for every message of this connection.
    private func configure(_ handle: UnsafeMutableRawPointer) {
        conveyor_curl_set_string(handle, CURLOPT_URL, endpoint.curlURL)
        conveyor_curl_set_long(handle, CURLOPT_UPLOAD, 1)
        conveyor_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        conveyor_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        conveyor_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(sendTimeout * 1000))
        conveyor_curl_set_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        conveyor_curl_set_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = endpoint.caFile { conveyor_curl_set_string(handle, CURLOPT_CAINFO, caFile) }
        if endpoint.security == .startTLS { conveyor_curl_set_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
        if let user = endpoint.user { conveyor_curl_set_string(handle, CURLOPT_USERNAME, user) }
        if let password = endpoint.password { conveyor_curl_set_string(handle, CURLOPT_PASSWORD, password) }
        // Go on past refused recipients: the rest get the mail, the refused are reported.
        conveyor_curl_set_long(handle, conveyor_curl_rcpt_allow_fails(), 1)
        conveyor_curl_set_read_function(handle, readBody)
        conveyor_curl_set_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
        // The debug stream is where libcurl shows each command and reply line.
        conveyor_curl_set_long(handle, CURLOPT_VERBOSE, 1)
        conveyor_curl_set_debug_function(handle, readTranscript)
        conveyor_curl_set_pointer(handle, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(transcript).toOpaque())
    }

    /// Sends one message; a failure before the server took any part of it (a connection the
    /// server closed while idle) is tried once more on a fresh connection.
    private func send(_ envelope: SMTPEnvelope, on handle: UnsafeMutableRawPointer) -> Result<SMTPReceipt, EmailError> {
        var outcome = attempt(envelope, on: handle)
        if case let .failure(error) = outcome, error.code == .connection, transcript.dataReply == nil, transcript.recipients.isEmpty {
            logger.debug("SMTP connection failed before any recipient; trying a fresh one", metadata: ["error": "\(error)"])
            conveyor_curl_set_long(handle, CURLOPT_FRESH_CONNECT, 1)
            outcome = attempt(envelope, on: handle)
            conveyor_curl_set_long(handle, CURLOPT_FRESH_CONNECT, 0)
        }
        return outcome
    }

    private func attempt(_ envelope: SMTPEnvelope, on handle: UnsafeMutableRawPointer) -> Result<SMTPReceipt, EmailError> {
        transcript.reset()
        upload = Upload(bytes: envelope.message)
        var list: UnsafeMutablePointer<curl_slist>?
        for recipient in envelope.recipients { list = conveyor_curl_slist_append(list, recipient) }
        defer { conveyor_curl_slist_free_all(list) }
        conveyor_curl_set_string(handle, CURLOPT_MAIL_FROM, "<\(envelope.from)>")
        conveyor_curl_set_list(handle, CURLOPT_MAIL_RCPT, list)
        conveyor_curl_set_size(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(envelope.message.count))
        let code = conveyor_curl_easy_perform(handle)
        transcript.bodyComplete = upload.finished
        var connects = 0
        if conveyor_curl_info_long(handle, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK, connects > 0 {
            opened?.add(connects)
            logger.debug("SMTP connection opened", metadata: ["server": "\(endpoint)"])
        }
        return SMTPVerdict(transcript: transcript, curlCode: code.rawValue,
                           curlMessage: String(cString: conveyor_curl_easy_strerror(code)), recipients: envelope.recipients).outcome
    }
}

/// The message being read by libcurl.
struct Upload {
    var bytes: [UInt8] = []
    var offset = 0
    var finished: Bool { offset >= bytes.count }
}

/// libcurl's read callback: copies the next part of the message into its buffer.
private let readBody: conveyor_curl_read_callback = { buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    let session = Unmanaged<CurlSession>.fromOpaque(context).takeUnretainedValue()
    let room = size * count
    let left = session.upload.bytes.count - session.upload.offset
    let length = min(room, left)
    guard length > 0 else { return 0 }
    session.upload.bytes.withUnsafeBufferPointer { source in
        guard let base = source.baseAddress else { return }
        UnsafeMutableRawPointer(buffer).copyMemory(from: base + session.upload.offset, byteCount: length)
    }
    session.upload.offset += length
    return length
}

/// libcurl's debug callback: command lines out, reply lines in, to the transcript.
private let readTranscript: conveyor_curl_debug_callback = { _, type, data, size, context in
    guard let data, let context else { return 0 }
    let transcript = Unmanaged<SMTPTranscript>.fromOpaque(context).takeUnretainedValue()
    guard type == CURLINFO_HEADER_IN || type == CURLINFO_HEADER_OUT else { return 0 }
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    if type == CURLINFO_HEADER_IN { transcript.received(text) } else { transcript.sent(text) }
    return 0
}

/// libcurl, loaded (and `curl_global_init` run) once per process, at the first message.
enum Libcurl {
    /// Why libcurl cannot be used (the Debian package libcurl4 missing, say), or nil when it can;
    /// the same answer every time after the first.
    static func load() -> String? {
        conveyor_curl_load().map { "SMTP needs libcurl: " + String(cString: $0) }
    }
}

/// How many connections a connection's thread has opened.
final class OpenedConnections: Sendable {
    private let value = Atomic(0)
    func add(_ count: Int) { value.add(count, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}
