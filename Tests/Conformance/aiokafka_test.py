"""aiokafka 0.14 against an amq cluster: hand-written, non-flexible codecs
(ApiVersions v0, Metadata v5, Produce v8, Fetch v11, ListOffsets v5, JoinGroup v5, SyncGroup v3,
OffsetCommit/Fetch v3, InitProducerId v0), so it catches what the newer clients would not.

Usage: aiokafka_test.py BOOTSTRAP
Prints PASS and exits 0, or fails with an assertion naming what differed.
"""
import asyncio
import sys
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

B = sys.argv[1]
T = "aio-" + uuid.uuid4().hex[:8]
G = "aio-group-" + uuid.uuid4().hex[:6]


async def main():
    admin = AIOKafkaAdminClient(bootstrap_servers=B)
    await admin.start()
    await admin.create_topics([NewTopic(T, num_partitions=2, replication_factor=1)])
    await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=B, enable_idempotence=True, compression_type="gzip")
    await producer.start()
    sent = []
    for i in range(50):
        metadata = await producer.send_and_wait(T, key=b"k%d" % i, value=(b"aio-%d " % i) * 30, partition=i % 2)
        sent.append((metadata.partition, metadata.offset, b"k%d" % i))
    await producer.stop()
    assert [o for p, o, _ in sent if p == 0] == list(range(25)), sent

    consumer = AIOKafkaConsumer(T, bootstrap_servers=B, group_id=G, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got = []
    while len(got) < 50:
        batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 60)
        for tp, records in batch.items():
            got += [(tp.partition, r.offset, r.key) for r in records]
    await consumer.commit()
    tps = [TopicPartition(T, 0), TopicPartition(T, 1)]
    ends = await consumer.end_offsets(tps)
    assert ends == {tps[0]: 25, tps[1]: 25}, ends
    committed = [await consumer.committed(tp) for tp in tps]
    assert committed == [25, 25], committed
    times = await consumer.offsets_for_times({tps[0]: 0})
    assert times[tps[0]].offset == 0, times
    await consumer.stop()
    assert sorted(got) == sorted(sent), (got[:5], sent[:5])
    print("PASS")


asyncio.run(main())
