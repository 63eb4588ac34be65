import Conveyor
import Foundation
import Testing
import TestSupport

/// What `CeleryEventReceiver` refuses before it touches the broker.
@Suite("CeleryEventReceiver: bad input")
struct CeleryEventReceiverTests {
    @Test("a queue prefix of 0 or over 200 bytes is refused")
    func prefixBounds() {
        let configuration = TestEnvironment.configuration(queue: "unused")
        for prefix in ["", String(repeating: "p", count: 201)] {
            #expect { try CeleryEventReceiver(configuration: configuration, queuePrefix: prefix) } throws: { error in
                (error as? ConveyorError)?.code == .invalidArguments
            }
        }
        #expect((try? CeleryEventReceiver(configuration: configuration, queuePrefix: String(repeating: "p", count: 200)))?.queue.hasPrefix("ppp") == true)
    }

    @Test("a timeout that is not above 0 is refused without connecting", arguments: [0.0, -1.0, Double.nan])
    func badTimeout(timeout: Double) async throws {
        let receiver = try CeleryEventReceiver(configuration: TestEnvironment.configuration(queue: "unused"))
        await #expect { try await receiver.start(timeout: timeout) { _ in } } throws: { error in
            (error as? ConveyorError)?.code == .invalidArguments
        }
        await #expect { try await receiver.wakeWorkers(timeout: timeout) } throws: { error in
            (error as? ConveyorError)?.code == .invalidArguments
        }
    }
}
