"""confluent-kafka 2.x (librdkafka 2.16) against an amq cluster.

Usage: confluent_kafka_test.py BOOTSTRAP
Prints PASS and exits 0, or fails with an assertion naming what differed.
"""
import sys
import time
import uuid

from waiting import until

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec, ResourceType

B = sys.argv[1]
T = "cf-" + uuid.uuid4().hex[:8]
a = AdminClient({"bootstrap.servers": B})

for t, f in a.create_topics([NewTopic(T, num_partitions=3, replication_factor=1)]).items():
    f.result()
try:
    a.create_topics([NewTopic(T, num_partitions=3, replication_factor=1)])[T].result()
    raise SystemExit("FAIL: duplicate CreateTopics accepted")
except KafkaException as e:
    assert e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, e
# Compaction is not implemented: a compacted topic is refused, not created and later emptied.
C = T + "-compact"
try:
    a.create_topics([NewTopic(C, num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})])[C].result()
    raise SystemExit("FAIL: cleanup.policy=compact accepted")
except KafkaException as e:
    assert e.args[0].code() == KafkaError.INVALID_CONFIG, e
    assert "compact" in e.args[0].str(), e
assert C not in a.list_topics(timeout=10).topics

# Issue 13, item 3: a preferred-leader election (the leader placement picked is the preferred
# one) answers ELECTION_NOT_NEEDED per partition; IncrementalAlterConfigs through librdkafka.
from confluent_kafka import ElectionType  # noqa: E402
until(lambda: T in a.list_topics(timeout=10).topics, "the topic to be in every agent's metadata")


def election():
    result = a.elect_leaders(ElectionType.PREFERRED, [TopicPartition(T, 0), TopicPartition(T, 1)]).result()
    codes = [getattr(e, "args", [e])[0].code() if e is not None else None for e in result.values()]
    return result if codes == [KafkaError.ELECTION_NOT_NEEDED] * 2 else None


# Any agent answers, from its own copy of the topology: each has the new topic within moments.
elected = until(election, "ELECTION_NOT_NEEDED for both partitions")
print("elect_leaders:", elected)
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry  # noqa: E402
altered = a.incremental_alter_configs([ConfigResource(ResourceType.TOPIC, T, incremental_configs=[
    ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])])
for f in altered.values():
    f.result()
until(lambda: a.describe_configs([ConfigResource(ResourceType.TOPIC, T)])[ConfigResource(ResourceType.TOPIC, T)].result()["retention.ms"].value == "7200000",
      "retention.ms=7200000 to show")
print("elect_leaders and incremental_alter_configs: ok")

# Transactions are not supported: init_transactions fails at once, not after its timeout.
started = time.time()
try:
    Producer({"bootstrap.servers": B, "transactional.id": "amq-txn-" + uuid.uuid4().hex[:6]}).init_transactions(20)
    raise SystemExit("FAIL: init_transactions succeeded")
except KafkaException as e:
    took = time.time() - started
    print("init_transactions refused in %.2f s: %s" % (took, e.args[0]))
    assert took < 2, "init_transactions took %.1f s to fail" % took
    assert "not supported" in e.args[0].str() or e.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e


until(lambda: T in a.list_topics(timeout=10).topics and len(a.list_topics(timeout=10).topics[T].partitions) == 3,
      "the new topic in metadata")
cl = a.describe_cluster().result()
print("cluster_id", cl.cluster_id, "controller", cl.controller.id, "nodes", [n.id for n in cl.nodes])
for r, f in a.describe_configs([ConfigResource(ResourceType.TOPIC, T)]).items():
    entries = f.result()
    assert "cleanup.policy" in entries and "retention.ms" in entries, entries

expected = {0: [], 1: [], 2: []}
for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
    p = Producer({"bootstrap.servers": B, "compression.codec": codec, "enable.idempotence": True, "linger.ms": 20})
    errs = []
    for i in range(200):
        value = (f"{codec}-{i} " * 50).encode()
        p.produce(T, key=f"k{i}", value=value, partition=i % 3, headers=[("codec", codec.encode())],
                  on_delivery=lambda err, msg: err and errs.append(err))
        expected[i % 3].append((f"k{i}".encode(), value))
    assert p.flush(30) == 0 and not errs, errs
print("produced 1000 records, every codec, idempotent")

tps = [TopicPartition(T, i) for i in range(3)]
lo = a.list_offsets({tps[0]: OffsetSpec.earliest()})[tps[0]].result().offset
hi = a.list_offsets({tps[0]: OffsetSpec.latest()})[tps[0]].result().offset
print("earliest", lo, "latest", hi)
assert (lo, hi) == (0, len(expected[0])), (lo, hi)
mx = a.list_offsets({tps[0]: OffsetSpec.max_timestamp()})[tps[0]].result()
print("max_timestamp", mx)
assert 0 <= mx.offset < hi, mx

G = "cf-group-" + uuid.uuid4().hex[:6]


def mk(name):
    c = Consumer({"bootstrap.servers": B, "group.id": G, "client.id": name,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([T])
    return c


c1 = mk("c1")
got = {0: [], 1: [], 2: []}
deadline = time.time() + 60
while sum(len(v) for v in got.values()) < 1000 and time.time() < deadline:
    m = c1.poll(1.0)
    if m is not None and not m.error():
        got[m.partition()].append((m.offset(), m.key(), m.value()))
for part in range(3):
    assert [g[0] for g in got[part]] == list(range(len(expected[part]))), part
    assert [(g[1], g[2]) for g in got[part]] == expected[part], part
print("consumed 1000 records in order")
print("watermarks p0:", c1.get_watermark_offsets(tps[0]))
assert c1.get_watermark_offsets(tps[0]) == (0, len(expected[0]))
c1.commit(asynchronous=False)
c2 = mk("c2")
until(lambda: (c1.poll(0.2), c2.poll(0.2)) and c1.assignment() and c2.assignment(), "c1 and c2 to share the partitions", 60)
both = {(tp.topic, tp.partition) for tp in c1.assignment() + c2.assignment()}
print("c1", c1.assignment(), "c2", c2.assignment())
assert both == {(T, i) for i in range(3)}, both
committed = c1.committed(tps, timeout=10)
print("committed:", committed)
assert sorted(tp.offset for tp in committed) == sorted(len(expected[i]) for i in range(3)), committed
c2.close()
c1.close()
groups = a.list_consumer_groups().result().valid
print("groups", groups)
assert any(g.group_id == G for g in groups), groups
desc = a.describe_consumer_groups([G])[G].result()
print("described", desc.group_id, desc.state)
for tp, f in a.delete_records([TopicPartition(T, 0, 5)]).items():
    low = f.result().low_watermark
    print("delete_records low watermark", low)
    assert low == 5, low
for t, f in a.delete_topics([T]).items():
    f.result()
print("PASS")
