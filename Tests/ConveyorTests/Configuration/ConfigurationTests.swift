import Conveyor
import Testing

/// Settings read from the environment, as operators set them.
@Suite("Configuration from the environment")
struct ConfigurationTests {
    @Test("CONVEYOR_RESULT_EXPIRES sets how long results live; 0 keeps them; unset keeps Celery's day")
    func resultExpires() throws {
        #expect(ConveyorConfiguration.fromEnvironment([:]).resultTTL == 86_400)
        #expect(ConveyorConfiguration.fromEnvironment(["CONVEYOR_RESULT_EXPIRES": "600"]).resultTTL == 600)
        #expect(ConveyorConfiguration.fromEnvironment(["CONVEYOR_RESULT_EXPIRES": "0"]).resultTTL == nil)
        try ConveyorConfiguration.fromEnvironment(["CONVEYOR_RESULT_EXPIRES": "600"]).validate()
    }

    @Test("a setting that cannot be read fails validation, naming the variable and value (never a silent default)",
          arguments: [("CONVEYOR_RESULT_EXPIRES", "1h"), ("CONVEYOR_RESULT_EXPIRES", "-5"), ("CONVEYOR_RESULT_EXPIRES", "1.5"),
                      ("CONVEYOR_QUEUE_TYPE", "quorom")])
    func badSetting(_ variable: String, _ value: String) {
        let configuration = ConveyorConfiguration.fromEnvironment([variable: value])
        #expect(throws: ConveyorError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch let error as ConveyorError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(variable) && error.message.contains(value))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("the other variables override the defaults")
    func otherVariables() {
        let configuration = ConveyorConfiguration.fromEnvironment([
            "CONVEYOR_BROKER_URL": "amqp://a:b@10.0.0.1:5673/%2F", "CONVEYOR_RESULT_URL": "redis://10.0.0.2:6380/3",
            "CONVEYOR_DEFAULT_QUEUE": "indexing", "CONVEYOR_QUEUE_TYPE": "quorum",
        ])
        #expect(configuration.brokerURL == "amqp://a:b@10.0.0.1:5673/%2F")
        #expect(configuration.resultURL == "redis://10.0.0.2:6380/3")
        #expect(configuration.defaultQueue == "indexing")
        #expect(configuration.queueType == .quorum)
    }
}
