"""kafka-python 3.0.x against an amq cluster.

Usage: kafka_python_test.py BOOTSTRAP
Checks counts, contents and per-partition order for every codec, acks 0/1/all, offsets by time,
a two-member consumer group with rebalance on join and leave, committed offsets, admin calls.
Prints PASS and exits 0, or fails with an assertion naming what differed.
"""
import sys
import threading
import time
import uuid

from waiting import until

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

B = sys.argv[1]
T = "kp-" + uuid.uuid4().hex[:8]



adm = KafkaAdminClient(bootstrap_servers=B, client_id="kp-admin")
adm.create_topics({T: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
try:
    adm.create_topics({T: {"num_partitions": 3, "replication_factor": 1}})
    raise SystemExit("FAIL: duplicate CreateTopics accepted")
except TopicAlreadyExistsError:
    print("create twice -> TopicAlreadyExistsError: ok")

# Issue 13, item 6: a name given twice in one request is refused in both entries (INVALID_REQUEST,
# 42) and nothing is created, as Kafka does; the same for CreatePartitions and DeleteTopics.
from kafka.admin import NewTopic  # noqa: E402
D = T + "-dup"
answer = adm.create_topics([NewTopic(D, 1, 1), NewTopic(D, 1, 1)], raise_errors=False)
assert [t["error_code"] for t in answer["topics"]] == [42, 42], answer
assert D not in adm.list_topics(), "a topic named twice in CreateTopics was created"
print("create twice in one request -> INVALID_REQUEST for both, nothing created: ok")

cluster = adm.describe_cluster()
print("cluster:", cluster)
assert len(cluster["brokers"]) >= 1, cluster
cfg = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, T)], config_filter="all")
print("describe_configs:", cfg)
assert "retention.ms" in cfg["topic"][T], cfg

# Issue 13, item 1: IncrementalAlterConfigs and AlterConfigs on a topic and on the broker
# default (amq's cluster settings); DescribeConfigs then shows the change with its source.
def topic_config(name):
    described = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, T)], config_filter="all")
    return str(described["topic"][T].get(name))


answer = adm.alter_configs([ConfigResource(ConfigResourceType.TOPIC, T, configs={"retention.ms": "3600000"})],
                           incremental=True, raise_on_unknown=False)
print("incremental alter:", answer)
assert "Error" not in str(answer), answer
until(lambda: "3600000" in topic_config("retention.ms"), "retention.ms=3600000 to show in DescribeConfigs")
print("retention.ms after incremental alter:", topic_config("retention.ms"))
bad = adm.alter_configs([ConfigResource(ConfigResourceType.TOPIC, T, configs={"retention.ms": "soon"})],
                        incremental=True, raise_on_unknown=False)
assert "InvalidConfiguration" in str(bad), bad
answer = adm.alter_configs([ConfigResource(ConfigResourceType.TOPIC, T, configs={"max.message.bytes": "2000000"})],
                           incremental=False, raise_on_unknown=False)
assert "Error" not in str(answer), answer
until(lambda: "2000000" in topic_config("max.message.bytes"), "AlterConfigs to set max.message.bytes")
print("after AlterConfigs: max.message.bytes", topic_config("max.message.bytes"), "retention.ms", topic_config("retention.ms"))
# kafka-python can only name a broker; amq applies its broker configs to every agent.
answer = adm.alter_configs([ConfigResource(ConfigResourceType.BROKER, "1", configs={"num.partitions": "5"})],
                           incremental=True, raise_on_unknown=False)
assert "Error" not in str(answer), answer


def broker_config(name):
    described = adm.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")], config_filter="all")
    return str(described)


until(lambda: "'num.partitions'" in broker_config("num.partitions") and "5" in broker_config("num.partitions"),
      "num.partitions=5 on the brokers")
answer = adm.alter_configs([ConfigResource(ConfigResourceType.BROKER, "1", configs={"num.partitions": (1, None)})],
                           incremental=True, raise_on_unknown=False)
assert "Error" not in str(answer), answer
print("alter configs (incremental, replace, broker default), described with sources: ok")

# Item 3: ListPartitionReassignments answers none in progress.
reassignments = adm.list_partition_reassignments()
print("reassignments:", reassignments)
assert not reassignments, reassignments

# Produce: every codec, idempotent by default; keys, headers and timestamps.
expected = {0: [], 1: [], 2: []}
base_ts = int(time.time() * 1000) - 60_000
for n, codec in enumerate((None, "gzip", "snappy", "lz4", "zstd")):
    p = KafkaProducer(bootstrap_servers=B, compression_type=codec, acks="all", linger_ms=5)
    futures = []
    for i in range(30):
        key, value = f"k{i}".encode(), (f"{codec}-{i}-" + "x" * 200).encode()
        ts = base_ts + n * 1000 + i
        futures.append(p.send(T, key=key, value=value, partition=i % 3, timestamp_ms=ts, headers=[("h", str(i).encode())]))
        expected[i % 3].append((key, value, ts, [("h", str(i).encode())]))
    p.flush()
    metadata = [f.get(timeout=30) for f in futures]
    assert all(m.offset >= 0 for m in metadata), metadata
    p.close()
print("produced 150 records with every codec")

for acks in (0, 1):
    p = KafkaProducer(bootstrap_servers=B, acks=acks, enable_idempotence=False)
    value = b"acks%d" % acks
    p.send(T, value=value, partition=0).get(timeout=30)
    p.flush()
    p.close()
    expected[0].append((None, value, None, []))
print("produced with acks=0 and acks=1")

tps = [TopicPartition(T, i) for i in range(3)]
c = KafkaConsumer(bootstrap_servers=B, enable_auto_commit=False, consumer_timeout_ms=3000)
c.assign(tps)
# acks=0 is fire-and-forget: wait for it to be visible.
until(lambda: sum(c.end_offsets(tps).values()) == 152, "all 152 records to be committed")
beginning = c.beginning_offsets(tps)
assert all(v == 0 for v in beginning.values()), beginning

# Offsets by time: the first zstd record of partition 0 (codec index 4, i = 0).
ts = base_ts + 4 * 1000
found = c.offsets_for_times({tps[0]: ts})[tps[0]]
assert found is not None and found.offset == 40, found

c.seek_to_beginning()
got = {0: [], 1: [], 2: []}
deadline = time.time() + 30
while sum(len(v) for v in got.values()) < 152 and time.time() < deadline:
    for tp, records in c.poll(timeout_ms=1000).items():
        for r in records:
            got[tp.partition].append((r.offset, r.key, r.value, r.timestamp, list(r.headers)))
for part in range(3):
    offsets = [g[0] for g in got[part]]
    assert offsets == list(range(len(expected[part]))), (part, offsets)
    for (offset, key, value, ts, headers), (ekey, evalue, ets, eheaders) in zip(got[part], expected[part]):
        assert key == ekey and value == evalue and list(headers) == eheaders, (part, offset, key, value, headers)
        if ets is not None:
            assert ts == ets, (part, offset, ts, ets)
print("consumed all records in order with keys, headers, timestamps")

c.assign([tps[0]])
c.seek(tps[0], 5)
first = next(iter(c))
assert first.offset == 5, first.offset
c.close()

# Consumer group: two members, rebalance on join and on leave, committed offsets with metadata.
G = "kp-group-" + uuid.uuid4().hex[:6]
seen = {}
stop = {"a": threading.Event(), "b": threading.Event()}
errors = []


def member(name):
    try:
        m = KafkaConsumer(T, bootstrap_servers=B, group_id=G, auto_offset_reset="earliest",
                          enable_auto_commit=False, client_id=name, session_timeout_ms=10000,
                          heartbeat_interval_ms=500)
        while not stop[name].is_set():
            m.poll(timeout_ms=200)
            seen[name] = set(m.assignment())
        m.commit({tp: OffsetAndMetadata(1, "meta-" + name, -1) for tp in m.assignment()})
        m.close()
    except Exception as e:  # surfaced by the main thread
        errors.append(e)


ta = threading.Thread(target=member, args=("a",))
ta.start()
until(lambda: len(seen.get("a", ())) == 3, "member a to own all 3 partitions")
tb = threading.Thread(target=member, args=("b",))
tb.start()
until(lambda: seen.get("a") and seen.get("b") and not (seen["a"] & seen["b"]) and len(seen["a"] | seen["b"]) == 3,
      "a and b to split the partitions", timeout=60)
print("assignment with 2 members:", seen)
stop["b"].set()
tb.join()
until(lambda: len(seen.get("a", ())) == 3, "a to own all 3 partitions again after b left", timeout=60)
stop["a"].set()
ta.join()
assert not errors, errors

committed = adm.list_group_offsets({G: None})[G]
print("committed:", committed)
assert len(committed) == 3 and all(v.offset == 1 and v.metadata == "meta-a" for v in committed.values()), committed
groups = adm.list_groups()
print("groups:", groups)
assert G in str(groups), groups
described = adm.describe_groups([G])
print("described:", described)

# Issue 13, items 2 and 4: a group whose last member left without committing stays Empty (as
# Kafka keeps it), is listed, and is deleted without error; a group with a member answers
# NON_EMPTY_GROUP (68); a group that is gone, GROUP_ID_NOT_FOUND (69).
E = "kp-empty-" + uuid.uuid4().hex[:6]
m = KafkaConsumer(T, bootstrap_servers=B, group_id=E, enable_auto_commit=False, auto_offset_reset="earliest")
until(lambda: m.poll(timeout_ms=200) is not None and m.assignment(), "the member of the group to be emptied to join", timeout=60)
live = KafkaConsumer(T, bootstrap_servers=B, group_id=E + "-live", enable_auto_commit=False)
until(lambda: live.poll(timeout_ms=200) is not None and live.assignment(), "the live member to join", timeout=60)
m.close()
emptied = adm.describe_groups([E])
print("emptied group:", emptied)
assert "Empty" in str(emptied) and "Dead" not in str(emptied), emptied
assert E in str(adm.list_groups()), "an Empty group is not listed"
codes = adm.delete_groups([E, E + "-live"])
assert codes == {E: "OK", E + "-live": "NonEmptyGroupError"}, codes
codes = adm.delete_groups([E])
assert codes == {E: "GroupIdNotFoundError"}, codes
# OffsetDelete: refused for a topic the live group consumes, done for the emptied group G.
subscribed = adm.delete_group_offsets(E + "-live", [TopicPartition(T, 0)])
assert [e.__name__ for e in subscribed.values()] == ["GroupSubscribedToTopicError"], subscribed
deleted = adm.delete_group_offsets(G, [TopicPartition(T, 0)])
assert [e.__name__ for e in deleted.values()] == ["NoError"], deleted
remaining = adm.list_group_offsets({G: None})[G]
assert sorted(tp.partition for tp in remaining) == [1, 2], remaining
live.close()
print("empty group kept, deleted; non-empty refused; gone not found; offsets deleted per partition: ok")

adm.delete_records({tps[0]: 3})
c = KafkaConsumer(bootstrap_servers=B)
c.assign([tps[0]])
assert c.beginning_offsets([tps[0]])[tps[0]] == 3
c.close()

adm.delete_topics([T])
until(lambda: T not in adm.list_topics(), "the topic to be deleted")
adm.close()
print("PASS")
