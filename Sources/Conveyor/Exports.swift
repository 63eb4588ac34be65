// Task headers, message properties and raw broker access appear in Conveyor's public API
// (TaskOptions.headers, DeadLetter.properties, ConveyorClient.brokerConnection), so the AMQP
// module comes with `import Conveyor`.
@_exported import AMQP
