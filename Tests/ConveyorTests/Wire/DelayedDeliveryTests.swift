import AMQP
import Conveyor
import Testing

extension WireTests {
    @Suite("The delay cascade is kombu's native delayed delivery, name for name")
    struct DelayedDeliveryTopology {
        @Test("a delay is 28 binary digits, most significant first, then the queue (kombu's calculate_routing_key)")
        func routingKey() {
            // '.'.join(list(f'{5:028b}')) + '.celery'
            #expect(DelayedDelivery.routingKey(delay: 5, queue: "celery") == "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.1.celery")
            #expect(DelayedDelivery.routingKey(delay: 1 << 27, queue: "q") == "1." + Array(repeating: "0", count: 27).joined(separator: ".") + ".q")
            #expect(DelayedDelivery.routingKey(delay: 180, queue: "a.b") == Self.python(180) + ".a.b")
        }

        /// `'.'.join(list(f'{n:028b}'))`, written out independently of the code under test.
        static func python(_ n: Int) -> String {
            var digits = String(n, radix: 2)
            digits = String(repeating: "0", count: 28 - digits.count) + digits
            return digits.map(String.init).joined(separator: ".")
        }

        @Test("delays are clamped to 0 ... 2^28-1 seconds")
        func clamping() {
            let zeros = Array(repeating: "0", count: 28).joined(separator: ".")
            let ones = Array(repeating: "1", count: 28).joined(separator: ".")
            #expect(DelayedDelivery.maxDelay == (1 << 28) - 1)
            #expect(DelayedDelivery.routingKey(delay: 0, queue: "celery") == zeros + ".celery")
            #expect(DelayedDelivery.routingKey(delay: -30, queue: "celery") == zeros + ".celery")
            #expect(DelayedDelivery.routingKey(delay: DelayedDelivery.maxDelay, queue: "celery") == ones + ".celery")
            #expect(DelayedDelivery.routingKey(delay: Int.max, queue: "celery") == ones + ".celery")
        }

        /// kombu's `declare_native_delayed_delivery_exchanges_and_queues`, transcribed loop for loop.
        static func kombu(queueType: String) -> [TopologyDeclaration] {
            var result: [TopologyDeclaration] = []
            var routingKey = "1.#"
            for level in stride(from: 27, through: 0, by: -1) {
                let current = "celery_delayed_\(level)"
                result.append(.exchange(ExchangeDeclaration(name: current, type: "topic", durable: true, autoDelete: false)))
                var arguments: FieldTable = [
                    "x-queue-type": .string(queueType),
                    "x-overflow": .string("reject-publish"),
                    "x-message-ttl": .int64(Int64(1 << level) * 1000),
                    "x-dead-letter-exchange": .string(level > 0 ? "celery_delayed_\(level - 1)" : "celery_delayed_delivery"),
                ]
                if queueType == "quorum" { arguments["x-dead-letter-strategy"] = .string("at-least-once") }
                result.append(.queue(QueueDeclaration(name: current, durable: true, arguments: arguments, acceptExisting: true)))
                result.append(.queueBinding(queue: current, exchange: current, routingKey: routingKey))
                routingKey = "*." + routingKey
            }
            routingKey = "0.#"
            for level in stride(from: 27, through: 1, by: -1) {
                result.append(.exchangeBinding(destination: "celery_delayed_\(level - 1)", source: "celery_delayed_\(level)", routingKey: routingKey))
                routingKey = "*." + routingKey
            }
            result.append(.exchange(ExchangeDeclaration(name: "celery_delayed_delivery", type: "topic", durable: true)))
            result.append(.exchangeBinding(destination: "celery_delayed_delivery", source: "celery_delayed_0", routingKey: routingKey))
            return result
        }

        @Test("the declarations equal kombu's, in kombu's order", arguments: [QueueType.classic, .quorum])
        func declarationsMatchKombu(_ type: QueueType) {
            let declarations = DelayedDelivery.declarations(queueType: type)
            #expect(declarations.count == 28 * 3 + 27 + 2)
            #expect(declarations == Self.kombu(queueType: type.rawValue))
        }

        @Test("spot checks against kombu: TTLs, dead-letter chain, bindings, and the final binding into celery_delayed_delivery")
        func spotChecks() throws {
            let declarations = DelayedDelivery.declarations(queueType: .classic)
            let queues = declarations.compactMap { if case let .queue(q) = $0 { q } else { nil } }
            #expect(queues.map(\.name) == (0...27).reversed().map { "celery_delayed_\($0)" })
            let level0 = try #require(queues.last)
            #expect(level0.arguments["x-message-ttl"]?.intValue == 1000)
            #expect(level0.arguments["x-dead-letter-exchange"] == .string("celery_delayed_delivery"))
            let level27 = try #require(queues.first)
            #expect(level27.arguments["x-message-ttl"]?.intValue == 134_217_728_000)
            #expect(level27.arguments["x-dead-letter-exchange"] == .string("celery_delayed_26"))
            #expect(level27.arguments.entries.map(\.key) == ["x-queue-type", "x-overflow", "x-message-ttl", "x-dead-letter-exchange"])
            #expect(queues.allSatisfy { $0.durable && !$0.exclusive && !$0.autoDelete && $0.acceptExisting })

            // py-amqp writes ints within Int32 as I and larger ones as L: 2^21 s in ms fits, 2^22 s does not.
            let level21 = try #require(queues.first { $0.name == "celery_delayed_21" })
            let level22 = try #require(queues.first { $0.name == "celery_delayed_22" })
            #expect(WireTests.kinds(["t": level21.arguments["x-message-ttl"] ?? .void]) == "t:I")
            #expect(WireTests.kinds(["t": level22.arguments["x-message-ttl"] ?? .void]) == "t:L")

            let exchanges = declarations.compactMap { if case let .exchange(e) = $0 { e } else { nil } }
            #expect(exchanges.count == 29)
            #expect(exchanges.allSatisfy { $0.type == "topic" && $0.durable && !$0.autoDelete && $0.arguments.isEmpty })
            #expect(exchanges.last?.name == "celery_delayed_delivery")

            #expect(declarations.contains(.queueBinding(queue: "celery_delayed_27", exchange: "celery_delayed_27", routingKey: "1.#")))
            #expect(declarations.contains(.queueBinding(queue: "celery_delayed_0", exchange: "celery_delayed_0",
                                                        routingKey: String(repeating: "*.", count: 27) + "1.#")))
            #expect(declarations.contains(.exchangeBinding(destination: "celery_delayed_26", source: "celery_delayed_27", routingKey: "0.#")))
            #expect(declarations.contains(.exchangeBinding(destination: "celery_delayed_25", source: "celery_delayed_26", routingKey: "*.0.#")))
            #expect(declarations.contains(.exchangeBinding(destination: "celery_delayed_0", source: "celery_delayed_1",
                                                           routingKey: String(repeating: "*.", count: 26) + "0.#")))
            #expect(declarations.last == .exchangeBinding(destination: "celery_delayed_delivery", source: "celery_delayed_0",
                                                          routingKey: String(repeating: "*.", count: 27) + "0.#"))
            #expect(DelayedDelivery.entryExchange == "celery_delayed_27")
            #expect(DelayedDelivery.deliveryExchange == "celery_delayed_delivery")
        }

        @Test("quorum queues add x-dead-letter-strategy at-least-once, last")
        func quorum() throws {
            let queues = DelayedDelivery.declarations(queueType: .quorum).compactMap { if case let .queue(q) = $0 { q } else { nil } }
            let first = try #require(queues.first)
            #expect(first.arguments.entries.map(\.key) == ["x-queue-type", "x-overflow", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-strategy"])
            #expect(queues.allSatisfy { $0.arguments["x-queue-type"] == .string("quorum") && $0.arguments["x-dead-letter-strategy"] == .string("at-least-once") })
        }

        @Test("a work queue binds to the end of the cascade with 28 single-word wildcards then its name")
        func binding() {
            #expect(DelayedDelivery.binding(for: "celery")
                == .queueBinding(queue: "celery", exchange: "celery_delayed_delivery", routingKey: String(repeating: "*.", count: 28) + "celery"))
            #expect(DelayedDelivery.binding(for: "a.b")
                == .queueBinding(queue: "a.b", exchange: "celery_delayed_delivery", routingKey: String(repeating: "*.", count: 28) + "a.b"))
        }

        /// RabbitMQ topic matching: `*` is one word, `#` zero or more.
        static func topicMatches(_ pattern: String, _ key: String) -> Bool {
            func match(_ p: ArraySlice<Substring>, _ k: ArraySlice<Substring>) -> Bool {
                guard let first = p.first else { return k.isEmpty }
                if first == "#" { return (0...k.count).contains { match(p.dropFirst(), k.dropFirst($0)) } }
                guard let word = k.first else { return false }
                return (first == "*" || first == word) && match(p.dropFirst(), k.dropFirst())
            }
            return match(ArraySlice(pattern.split(separator: ".", omittingEmptySubsequences: false)),
                         ArraySlice(key.split(separator: ".", omittingEmptySubsequences: false)))
        }

        /// Follows a message through the declared cascade as RabbitMQ would route it: the seconds it
        /// waits in level queues, and the work queues it finally reaches.
        static func simulate(delay: Int, queue: String, workQueues: [String]) -> (waited: Int, reached: [String]) {
            let declarations = DelayedDelivery.declarations(queueType: .classic) + workQueues.map(DelayedDelivery.binding(for:))
            let key = DelayedDelivery.routingKey(delay: delay, queue: queue)
            var waited = 0
            var exchange = DelayedDelivery.entryExchange
            while exchange != DelayedDelivery.deliveryExchange {
                let level = Int(exchange.dropFirst("celery_delayed_".count)) ?? -1
                let intoQueue = declarations.contains { d in
                    if case let .queueBinding(q, e, pattern, _) = d { return q == exchange && e == exchange && topicMatches(pattern, key) }
                    return false
                }
                let onward = declarations.compactMap { d -> String? in
                    if case let .exchangeBinding(destination, source, pattern, _) = d, source == exchange, topicMatches(pattern, key) { return destination }
                    return nil
                }
                if intoQueue {
                    // Waits out the queue's TTL, then is dead-lettered to the next level with the same key.
                    waited += 1 << level
                    exchange = level > 0 ? DelayedDelivery.levelName(level - 1) : DelayedDelivery.deliveryExchange
                } else {
                    guard onward.count == 1 else { return (waited, []) }
                    exchange = onward[0]
                }
            }
            let reached = declarations.compactMap { d -> String? in
                if case let .queueBinding(q, e, pattern, _) = d, e == DelayedDelivery.deliveryExchange, topicMatches(pattern, key) { return q }
                return nil
            }
            return (waited, reached)
        }

        @Test("routed through the declared cascade, a message waits exactly its delay and reaches only its own queue",
              arguments: [0, 1, 2, 5, 180, 3600, 86_399, (1 << 28) - 1])
        func cascadeRouting(_ delay: Int) {
            let outcome = Self.simulate(delay: delay, queue: "celery", workQueues: ["celery", "x.celery", "celery.x", "other"])
            #expect(outcome.waited == delay)
            #expect(outcome.reached == ["celery"])
        }

        @Test("the topic matcher used above agrees with RabbitMQ's rules")
        func topicMatcher() {
            #expect(Self.topicMatches("1.#", "1.0.celery"))
            #expect(Self.topicMatches("*.0.#", "1.0.celery"))
            #expect(!Self.topicMatches("*.0.#", "1.1.celery"))
            #expect(Self.topicMatches("#", ""))
            #expect(Self.topicMatches("a.#", "a"))
            #expect(!Self.topicMatches("*.celery", "x.y.celery"))
            #expect(Self.topicMatches("*.*.celery", "x.y.celery"))
        }
    }

    @Suite("Work queue names and declarations")
    struct WorkQueueNames {
        @Test("names the broker or the delay cascade cannot route are refused", arguments: [
            "", String(repeating: "q", count: 256), String(repeating: "é", count: 128), "amq.gen-1", "a*b", "a#b", "#", ".a", "a.", "a..b",
        ])
        func refused(_ name: String) {
            let error = #expect(throws: ConveyorError.self) { try WorkQueue.validate(name: name) }
            #expect(error?.code == .invalidConfiguration)
        }

        @Test("ordinary names are accepted, up to 255 bytes", arguments: [
            "celery", "q1", "a.b", "repos.index", "café", "under_score-dash", String(repeating: "q", count: 255), "amq", "xamq.y",
        ])
        func accepted(_ name: String) throws {
            try WorkQueue.validate(name: name)
        }

        @Test("a work queue is declared as Celery declares it, then bound to the cascade")
        func declarations() {
            let queue = WorkQueue(name: "q1")
            #expect(queue.declarations == [
                .exchange(ExchangeDeclaration(name: "q1", type: "direct", durable: true, acceptExisting: true)),
                .queue(QueueDeclaration(name: "q1", durable: true, arguments: [:])),
                .queueBinding(queue: "q1", exchange: "q1", routingKey: "q1"),
                DelayedDelivery.binding(for: "q1"),
            ])
            #expect(queue.deadLetterQueue == "q1.dead")
            #expect(queue.deadLetterDeclarations == [.queue(QueueDeclaration(name: "q1.dead", durable: true))])
        }

        @Test("queue arguments: x-max-priority as I on classic queues, x-queue-type on quorum queues")
        func arguments() {
            let priority = WorkQueue(name: "p", maxPriority: 10)
            #expect(priority.arguments == ["x-max-priority": .int32(10)])
            #expect(WireTests.kinds(priority.arguments) == "x-max-priority:I")
            #expect(WorkQueue(name: "q", type: .quorum).arguments == ["x-queue-type": .string("quorum")])
            #expect(WorkQueue(name: "q", type: .quorum, maxPriority: 10).arguments == ["x-queue-type": .string("quorum")])
            #expect(WorkQueue(name: "c").arguments.isEmpty)
        }
    }
}
