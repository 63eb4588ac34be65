@testable import Conveyor
import Testing

@Suite("Rate limits: Celery's rate strings, bursts and argument selectors, checked when made")
struct RateLimitParsingTests {
    @Test("Celery's forms read as count per period", arguments: [
        ("10/s", 10, 1), ("100/m", 100, 60), ("1000/h", 1000, 3600), ("7", 7, 1), ("1/h", 1, 3600), ("10000/s", 10_000, 1),
        ("1000000/h", 1_000_000, 3600),
    ])
    func parses(rate: String, count: Int, period: Int) throws {
        let limit = try RateLimit(rate)
        #expect(limit.count == count)
        #expect(limit.periodSeconds == period)
        #expect(limit.burst == 1)
        #expect(limit.scope == .fleet)
        #expect(limit.rate == (rate.contains("/") ? rate : rate + "/s"))
    }

    @Test("the steady interval is the period over the count")
    func interval() throws {
        #expect(try RateLimit("100/m").intervalMicroseconds == 600_000)
        #expect(try RateLimit("50/s").intervalMicroseconds == 20_000)
        #expect(try RateLimit("10000/s").intervalMicroseconds == 100)
        #expect(try RateLimit("1/h").interval == 3600)
    }

    @Test("malformed, zero, negative and huge rates are refused naming the rate", arguments: [
        "10/x", "0/s", "-1/m", "+1/m", " 1/s", "1 /s", "1/ s", "", "/s", "1/", "99999999999999999999/s", "1000001/h",
        "20000/s", "1.5/s", "1e3/s", "١٠/s", "10/s/s", "10/S",
    ])
    func refusesRate(rate: String) {
        #expect(throws: ConveyorError.self) { try RateLimit(rate) }
        do {
            _ = try RateLimit(rate)
        } catch let error as ConveyorError {
            #expect(error.code == .invalidArguments)
            #expect(error.message.contains("rate"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("bursts outside 1...10000 are refused", arguments: [0, -1, 10_001, Int.max, Int.min])
    func refusesBurst(burst: Int) {
        #expect(throws: ConveyorError.self) { try RateLimit("10/s", burst: burst) }
    }

    @Test("periods other than 1, 60 and 3600 s and counts out of range are refused", arguments: [
        (10, 2), (10, 0), (10, -60), (0, 1), (-5, 60), (Int.max, 3600), (Int.min, 1),
    ])
    func refusesCountAndPeriod(count: Int, period: Int) {
        #expect(throws: ConveyorError.self) { try RateLimit(count: count, periodSeconds: period) }
    }

    @Test("argument selectors: a keyword, a position, or both")
    func selectors() throws {
        let keyword = try ArgumentSelector(parsing: "domain")
        #expect(keyword.keyword == "domain" && keyword.position == nil)
        let position = try ArgumentSelector(parsing: "2")
        #expect(position.position == 2 && position.keyword == nil)
        let both = try ArgumentSelector(parsing: "1:y")
        #expect(both.position == 1 && both.keyword == "y")
        for selector in [keyword, position, both] { #expect(try ArgumentSelector(parsing: selector.description) == selector) }
    }

    @Test("a selector picks the keyword when passed, else the position")
    func selectorValue() throws {
        let both = try ArgumentSelector(parsing: "1:y")
        #expect(both.value(args: [1, 2], kwargs: [:]) == 2)
        #expect(both.value(args: [1], kwargs: ["y": "k"]) == "k")
        #expect(both.value(args: [1, 2], kwargs: ["y": "k"]) == "k")
        #expect(both.value(args: [1], kwargs: [:]) == nil)
    }

    @Test("empty, oversized and malformed selectors are refused", arguments: [
        "", String(repeating: "k", count: 200), "256", "99999999999999999999", "x:y", ":y", "1:", "-1", "a b", "1:2x", "a.b",
    ])
    func refusesSelector(text: String) {
        #expect(throws: ConveyorError.self) { try RateLimit("10/s", perArgument: text) }
    }

    @Test("run-time limits are stored and read back unchanged, and unusable stored ones are refused")
    func storedForm() throws {
        let limit = try RateLimit("100/m", burst: 10, perArgument: "1:domain", scope: .worker)
        #expect(try RateLimitSettings.limit(RateLimitSettings.json(limit)) == limit)
        for bad: JSON in [["rate": "0/s"], ["rate": "1/s", "burst": 0], ["rate": "1/s", "scope": "galaxy"], ["burst": 1],
                          ["rate": "1/s", "burst": .int(Int64.max)]] {
            #expect(throws: ConveyorError.self) { try RateLimitSettings.limit(bad) }
        }
    }

    @Test("task names for limits are 1 to 200 bytes")
    func taskNames() {
        #expect(throws: ConveyorError.self) { try RateLimitSettings.check(task: "") }
        #expect(throws: ConveyorError.self) { try RateLimitSettings.check(task: String(repeating: "t", count: 201)) }
        #expect(throws: Never.self) { try RateLimitSettings.check(task: String(repeating: "t", count: 200)) }
    }

    @Test("limiter keys stay short and distinct whatever the task name and argument")
    func keys() {
        let huge = String(repeating: "x", count: 1_000_000)
        #expect(Keys.rateLimit(task: huge, argument: huge).utf8.count < 200)
        #expect(Keys.rateLimit(task: "a:b", argument: nil) != Keys.rateLimit(task: "a", argument: "b"))
        #expect(Keys.rateLimit(task: "t", argument: "\"a\"") != Keys.rateLimit(task: "t", argument: "\"b\""))
        #expect(Keys.rateLimit(task: "t", argument: huge) != Keys.rateLimit(task: "t", argument: huge + "y"))
    }
}
