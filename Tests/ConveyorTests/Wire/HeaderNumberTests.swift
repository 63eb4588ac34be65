import AMQP
import Conveyor
import Testing

extension WireTests {
    /// Counts in a message's headers are read within what the worker can act on.
    @Suite("Header numbers: retries")
    struct HeaderNumbers {
        @Test("a negative retries header reads as 0, so a message cannot buy itself endless retries; huge ones are kept",
              arguments: [(Int64.min, 0), (-1, 0), (0, 0), (7, 7), (Int64(1) << 62, 1 << 62), (Int64.max, Int.max)])
        func retries(_ header: Int64, _ read: Int) throws {
            let properties = BasicProperties(contentType: "application/json",
                                             headers: ["task": .string("t"), "id": .string("i"), "retries": .int64(header)])
            #expect(try TaskMessage.decode(properties: properties, body: Array("[[], {}, {}]".utf8)).get().retries == read)
        }
    }
}
