import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server for `GET` probes and scrapes (`/metrics`, `/healthz`), on SwiftNIO
/// with one event-loop thread of its own. Each request is answered by `route`; a connection
/// idle for `idleTimeout` is closed, and past `maxConnections` open ones a new connection is
/// closed at once, so clients that open sockets and say nothing cannot pile up.
public final class HTTPEndpoint: Sendable {
    /// What `route` answers.
    public struct Response: Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The `Content-Type` header.
        public var contentType: String
        /// The body.
        public var body: [UInt8]

        /// - Parameters: every parameter is the field of the same name.
        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        /// A plain-text answer.
        public static func text(_ status: Int, _ text: String) -> Response {
            Response(status: status, body: Array(text.utf8))
        }

        /// 404 for a path the endpoint does not serve.
        public static let notFound = Response.text(404, "not found\n")
    }

    /// Answers one request, given its method and path (without the query).
    public typealias Route = @Sendable (_ method: String, _ path: String) async -> Response

    /// How long a connection may stay silent before it is closed, unless `init` is given another.
    public static let idleTimeout: TimeAmount = .seconds(30)
    /// Connections served at once; one more is closed before it is read. A scraper and a few
    /// probes need a handful; the cap keeps a flood from taking the process's descriptors.
    public static let maxConnections = 64

    private let open = OpenConnections()
    /// Connections being served now.
    public var openConnections: Int { open.count.withLock { $0 } }

    private let group: MultiThreadedEventLoopGroup
    private let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let serving: Task<Void, Never>
    /// Where it listens (the chosen port when asked for 0).
    public let address: ListenAddress

    /// Binds `address` and starts answering.
    /// - Throws: when the address cannot be bound (in use, not local, bad host).
    /// - Parameter idleTimeout: how long a connection may stay silent before it is closed.
    public init(address: ListenAddress, logger: Logger, idleTimeout: TimeAmount = HTTPEndpoint.idleTimeout,
                route: @escaping Route) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try channel.pipeline.syncOperations.addHandler(CloseOnIdle())
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        self.address = ListenAddress(host: address.host, port: server.channel.localAddress?.port ?? address.port)
        let server = self.server
        let open = self.open
        serving = Task {
            do {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            let admitted = open.count.withLock { count -> Bool in
                                guard count < Self.maxConnections else { return false }
                                count += 1
                                return true
                            }
                            guard admitted else {
                                logger.debug("http connection refused: at the connection cap", metadata: ["cap": "\(Self.maxConnections)"])
                                // Closed without reading; through executeThenClose, which NIO's async channel requires.
                                group.addTask { try? await connection.executeThenClose { _, _ in } }
                                continue
                            }
                            group.addTask {
                                await Self.serve(connection, route: route, logger: logger)
                                open.count.withLock { $0 -= 1 }
                            }
                        }
                    }
                }
            } catch {
                logger.debug("http endpoint stopped", metadata: ["reason": "\(error)"])
            }
        }
    }

    private static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, route: Route,
                              logger: Logger) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case let .head(request):
                        head = request
                    case .body:
                        continue
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let path = String(request.uri.prefix { $0 != "?" && $0 != "#" })
                        let response = await route(request.method.rawValue, path)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: response.contentType)
                        headers.add(name: "Content-Length", value: String(response.body.count))
                        try await outbound.write(.head(HTTPResponseHead(version: request.version,
                                                                        status: HTTPResponseStatus(statusCode: response.status),
                                                                        headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        try await outbound.write(.end(nil))
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("http connection ended", metadata: ["reason": "\(error)"])
        }
    }

    /// Stops listening, closes the connections and the event loop.
    public func close() async {
        try? await server.channel.close()
        serving.cancel()
        await serving.value
        try? await group.shutdownGracefully()
    }
}

/// How many connections an endpoint serves now, shared with its serving task.
private final class OpenConnections: Sendable {
    let count = Mutex(0)
}

/// Closes a connection when `IdleStateHandler` says it stayed silent.
private final class CloseOnIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
