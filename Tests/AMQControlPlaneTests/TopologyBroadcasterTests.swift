import AMQControlPlane
import Testing

@Suite struct TopologyBroadcasterTests {
    func snapshot(_ version: Int) -> TopologySnapshot {
        TopologySnapshot(
            cluster: "demo", version: version, settings: ClusterSettings(), objectStoreURL: "file:///tmp", zones: [], nodes: [],
            topics: [], partitions: []
        )
    }

    @Test func returnsAtOnceWhenANewerVersionIsHeld() async {
        let broadcaster = TopologyBroadcaster()
        await broadcaster.publish(snapshot(5))
        #expect(await broadcaster.snapshot(after: 4, timeout: .seconds(30))?.version == 5)
    }

    @Test func timesOutWithNilWhenNothingNewer() async {
        let broadcaster = TopologyBroadcaster()
        await broadcaster.publish(snapshot(5))
        #expect(await broadcaster.snapshot(after: 5, timeout: .milliseconds(20)) == nil)
    }

    @Test func wakesEveryWaiterOnPublish() async {
        let broadcaster = TopologyBroadcaster()
        await broadcaster.publish(snapshot(1))
        await withTaskGroup(of: Int?.self) { group in
            for _ in 0..<5 {
                group.addTask { await broadcaster.snapshot(after: 1, timeout: .seconds(60))?.version }
            }
            // Publishing repeatedly until the waiters are done keeps this free of timing assumptions.
            var version = 2
            var results: [Int?] = []
            group.addTask { nil }
            while results.count < 6 {
                await broadcaster.publish(snapshot(version))
                version += 1
                if let result = await group.next() { results.append(result) }
            }
            #expect(results.compactMap { $0 }.count == 5)
            #expect(results.compactMap { $0 }.allSatisfy { $0 >= 2 })
        }
    }

    @Test func cancellationEndsTheWait() async {
        let broadcaster = TopologyBroadcaster()
        let task = Task { await broadcaster.snapshot(after: 0, timeout: .seconds(600)) }
        task.cancel()
        #expect(await task.value == nil)
    }
}
