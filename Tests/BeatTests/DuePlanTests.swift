@testable import Beat
import Foundation
import Testing

@Suite("Beat: which missed runs fire (catch_up none, one, all)")
struct DuePlanTests {
    private func entry(_ catchUp: BeatEntry.CatchUp, every seconds: Int64 = 10) -> BeatEntry {
        BeatEntry(name: "e", task: "t", trigger: .every(milliseconds: seconds * 1000), catchUp: catchUp)
    }

    @Test("on time, every policy fires the one due run")
    func onTime() {
        for policy in BeatEntry.CatchUp.allCases {
            let plan = DuePlan(entry(policy), last: 0, now: 10_005, grace: 5000, maxCatchUp: 100)
            #expect(plan == DuePlan(fire: [10_000], skipped: 0, newest: 10_000), "\(policy)")
        }
    }

    @Test("nothing is due before the next run")
    func notDue() {
        #expect(DuePlan(entry(.all), last: 0, now: 9_999, grace: 5000, maxCatchUp: 100) == DuePlan())
    }

    @Test("after an outage: all fires each missed run oldest first, one the newest, none only a run within the grace")
    func outage() {
        #expect(DuePlan(entry(.all), last: 0, now: 35_000, grace: 5000, maxCatchUp: 100) == DuePlan(fire: [10_000, 20_000, 30_000], skipped: 0, newest: 30_000))
        #expect(DuePlan(entry(.one), last: 0, now: 35_000, grace: 5000, maxCatchUp: 100) == DuePlan(fire: [30_000], skipped: 2, newest: 30_000))
        #expect(DuePlan(entry(.none), last: 0, now: 35_000, grace: 5000, maxCatchUp: 100) == DuePlan(fire: [30_000], skipped: 2, newest: 30_000))
        #expect(DuePlan(entry(.none), last: 0, now: 36_000, grace: 5000, maxCatchUp: 100) == DuePlan(fire: [], skipped: 3, newest: 30_000))
    }

    @Test("all is bounded by max_catch_up: the newest fire, the rest are counted as skipped")
    func bounded() {
        let plan = DuePlan(entry(.all, every: 1), last: 0, now: 86_400_000, grace: 5000, maxCatchUp: 3)
        #expect(plan == DuePlan(fire: [86_398_000, 86_399_000, 86_400_000], skipped: 86_397, newest: 86_400_000))
    }

    @Test("cron entries list their missed due times from the crontab")
    func cron() throws {
        let hourly = BeatEntry(name: "h", task: "t", trigger: .cron(try Crontab("0 * * * *")), catchUp: .all)
        let plan = DuePlan(hourly, last: 0, now: 3 * 3_600_000 + 1, grace: 5000, maxCatchUp: 100)
        #expect(plan.fire == [3_600_000, 7_200_000, 10_800_000])
    }
}
