@testable import AMQP
import CRabbitMQ
import Conveyor
import Foundation
import Testing

extension WireTests {
    /// The AMQP content-header property section Celery 5.7 sent for
    /// `add.apply_async((2, 2), task_id='1111…')` (celery.md §2.7, from py-amqp's own encoder).
    @Suite("AMQP properties on the wire match Celery 5.7's bytes")
    struct CeleryPropertyBytes {
        static let taskId = String(repeating: "1", count: 36)
        static let celeryOrigin = "gen8622@vm"
        static let celeryReplyTo = "facda297-0257-3db6-9391-384667f7e59c"
        static let idHex = String(repeating: "31", count: 36)

        /// The captured bytes, line by line as in the reference.
        static let captured: [UInt8] = WireTests.hex("""
            fe00 10 6170706c69636174696f6e2f6a736f6e 05 7574662d38 00000158
            04 6c616e67 53 00000002 7079
            04 7461736b 53 0000000e 70726f6a2e7461736b732e616464
            02 6964 53 00000024 \(idHex)
            06 736861646f77 56 | 03 657461 56 | 07 65787069726573 56 | 05 67726f7570 56 | 0b 67726f75705f696e646578 56
            07 72657472696573 49 00000000
            09 74696d656c696d6974 41 00000002 56 56
            07 726f6f745f6964 53 00000024 \(idHex) | 09 706172656e745f6964 56
            08 6172677372657072 53 00000006 28322c203229
            0a 6b776172677372657072 53 00000002 7b7d
            06 6f726967696e 53 0000000a 67656e3836323240766d
            0d 69676e6f72655f726573756c74 74 00
            15 7265706c616365645f7461736b5f6e657374696e67 49 00000000
            0f 7374616d7065645f68656164657273 56 | 06 7374616d7073 46 00000000
            02 | 00 | 24 \(idHex) | 24 \(Array("facda297-0257-3db6-9391-384667f7e59c".utf8).map { String($0, radix: 16) }.joined())
            """)

        /// rabbitmq-c's encoding of the basic-class property section.
        static func encode(_ properties: BasicProperties) throws -> [UInt8] {
            try CArena.with { arena in
                var cProperties = properties.cProperties(in: arena)
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                let length = buffer.withUnsafeMutableBytes { raw in
                    amqp_encode_properties(60, &cProperties, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress))
                }
                try #require(length > 0, "amqp_encode_properties failed: \(length)")
                return Array(buffer[..<Int(length)])
            }
        }

        /// rabbitmq-c's decoding of a basic-class property section.
        static func decode(_ bytes: [UInt8]) throws -> BasicProperties {
            var pool = amqp_pool_t()
            init_amqp_pool(&pool, 4096)
            defer { empty_amqp_pool(&pool) }
            var copy = bytes
            return try copy.withUnsafeMutableBytes { raw in
                var decoded: UnsafeMutableRawPointer? = nil
                let status = amqp_decode_properties(60, &pool, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &decoded)
                try #require(status == AMQP_STATUS_OK.rawValue, "amqp_decode_properties failed: \(status)")
                let properties = try #require(decoded).assumingMemoryBound(to: amqp_basic_properties_t.self).pointee
                return BasicProperties(properties)
            }
        }

        static func minimalMessage() -> TaskMessage {
            TaskMessage(id: taskId, task: "proj.tasks.add", args: [2, 2])
        }

        @Test("the captured section is the 449 bytes the reference describes")
        func capturedIsWellFormed() throws {
            #expect(Self.captured.count == 449)
            let properties = try Self.decode(Self.captured)
            #expect(properties.contentType == "application/json")
            #expect(properties.headers?.count == 19)
            #expect(properties.correlationId == Self.taskId)
            #expect(properties.replyTo == Self.celeryReplyTo)
        }

        @Test("with Celery's origin and reply-to, Conveyor's property section is byte for byte Celery's")
        func bytesMatchCelery() throws {
            var message = Self.minimalMessage()
            message.origin = Self.celeryOrigin
            message.replyTo = Self.celeryReplyTo
            let encoded = try Self.encode(message.properties)
            #expect(encoded.count == Self.captured.count)
            #expect(encoded == Self.captured)
            if encoded != Self.captured, let index = (0..<min(encoded.count, Self.captured.count)).first(where: { encoded[$0] != Self.captured[$0] }) {
                Issue.record("first difference at byte \(index): ours \(encoded[index...].prefix(16).map { String($0, radix: 16) }), Celery's \(Self.captured[index...].prefix(16).map { String($0, radix: 16) })")
            }
        }

        @Test("with Conveyor's own origin and reply-to, only those two fields differ from Celery's")
        func onlyVariableFieldsDiffer() throws {
            let message = Self.minimalMessage()
            var ours = try Self.decode(try Self.encode(message.properties))
            let celery = try Self.decode(Self.captured)
            let origin = ours.headers?["origin"]?.stringValue ?? ""
            #expect(origin.hasPrefix("gen") && origin.contains("@"))
            #expect(UUID(uuidString: ours.replyTo ?? "") != nil)
            ours.headers?["origin"] = .string(Self.celeryOrigin)
            ours.replyTo = Self.celeryReplyTo
            #expect(ours == celery)
            // And the bytes then agree too: nothing else varies.
            #expect(try Self.encode(ours) == Self.captured)
        }

        @Test("the body is the 81 bytes Celery sent")
        func body() {
            let body = Self.minimalMessage().body
            #expect(body.count == 81)
            #expect(body == WireTests.bytes(#"[[2, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#))
        }

        @Test("the flags are 0xFE00 for the common case and gain 0x0100 with an expiration")
        func flags() throws {
            #expect(Array(try Self.encode(Self.minimalMessage().properties).prefix(2)) == [0xFE, 0x00])
            var expiring = Self.minimalMessage()
            expiring.expiration = "60000"
            expiring.priority = 5
            let encoded = try Self.encode(expiring.properties)
            #expect(Array(encoded.prefix(2)) == [0xFF, 0x00])
            let decoded = try Self.decode(encoded)
            #expect(decoded.expiration == "60000")
            #expect(decoded.priority == 5)
        }

        @Test("a fully populated task survives rabbitmq-c's wire encoding and decodes to the same task")
        func wireRoundTrip() throws {
            let message = TaskMessageDecoding.populated()
            let out = message.outgoing(queue: "q1")
            let properties = try Self.decode(try Self.encode(out.properties))
            let decoded = try TaskMessage.decode(properties: properties, body: out.body).get()
            TaskMessageDecoding.expectSame(decoded, message)
        }
    }
}
