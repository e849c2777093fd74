#!/usr/bin/env python3
# A fake single-node Kafka broker for checking amq's Kafka client (amq produce/consume/group)
# before the agents' listener can: every request is decoded with kafka-python's codec, an
# independent implementation of the same schemas, so an encoding mistake fails loudly here; the
# answers come from its encoder. Topics spring into being with 3 partitions; one group at a time.
#
#   .venv/bin/python scripts/kafka-fake-broker.py 19092 [old|mock]   # cap versions: older brokers, librdkafka's mock
#   AMQ_TEST_BOOTSTRAP=127.0.0.1:19092 swift test --filter KafkaClientLiveTests
#
# Needs kafka-python 3.0.x (scripts/test-requirements.txt). Not a broker: no persistence, no
# real group coordination.
import socket, struct, sys, threading, time
from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse, FindCoordinatorRequest, FindCoordinatorResponse
from kafka.protocol.consumer import *
from kafka.protocol.consumer.group import *
from kafka.protocol.producer import *
import kafka.protocol.admin as admin
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

CLASSES = {}
for mod_name in ['kafka.protocol.metadata', 'kafka.protocol.consumer', 'kafka.protocol.consumer.group', 'kafka.protocol.producer', 'kafka.protocol.admin']:
    mod = sys.modules[mod_name]
    for n in dir(mod):
        c = getattr(mod, n)
        if isinstance(c, type) and n.endswith('Request') and hasattr(c, 'API_KEY'):
            try: CLASSES[c.API_KEY] = (c, getattr(mod, n[:-7] + 'Response'))
            except Exception: pass

PORT = int(sys.argv[1])
NPART = 3
import collections
logs = collections.defaultdict(lambda: {p: [] for p in range(NPART)})   # topic -> partition -> [(key, value)]
commits = {}
members = {}
state = {'gen': 0}

def batch(topic, partition, offset):
    records = logs[topic][partition][offset:]
    if not records: return b''
    b = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 1 << 20)
    for i, (k, v) in enumerate(records):
        b.append(i, timestamp=1000 + i, key=k, value=v, headers=[('h', b'1')])
    data = bytearray(b.build())
    struct.pack_into('>q', data, 0, offset)
    return bytes(data)

def handle(key, version, req):
    R = CLASSES[key][1]
    if key == 18:
        caps = {
            'old': {10: 2, 9: 5, 13: 2, 11: 5, 14: 3, 12: 3, 0: 7, 1: 11, 2: 5, 3: 8, 8: 7, 15: 4, 16: 3},
            # what librdkafka 2.16's mock broker advertises
            'mock': {0: 10, 1: 16, 2: 7, 3: 13, 8: 9, 9: 6, 10: 3, 11: 6, 12: 5, 13: 4, 14: 4},
        }.get(sys.argv[2] if len(sys.argv) > 2 else '', {})
        keys = [(k, max(c[0].min_version, 0), min(c[0].max_version, caps.get(k, 99))) for k, c in CLASSES.items()]
        return R(error_code=0, api_keys=[R.ApiVersion(api_key=k, min_version=a, max_version=b) for k, a, b in keys])
    if key == 3:
        names = [t.name for t in req.topics] if req.topics else ['t1']
        topics = [R.MetadataResponseTopic(error_code=0, name=name, partitions=[R.MetadataResponseTopic.MetadataResponsePartition(error_code=0, partition_index=p, leader_id=1, leader_epoch=0, replica_nodes=[1], isr_nodes=[1], offline_replicas=[]) for p in range(NPART)]) for name in names]
        return R(brokers=[R.MetadataResponseBroker(node_id=1, host='127.0.0.1', port=PORT)], cluster_id='fake', controller_id=1, topics=topics)
    if key == 10:
        if version >= 4:
            return R(coordinators=[R.Coordinator(key=req.coordinator_keys[0], node_id=1, host='127.0.0.1', port=PORT, error_code=0)])
        return R(error_code=0, node_id=1, host='127.0.0.1', port=PORT)
    if key == 11:
        if req.member_id == '':
            return R(error_code=79, generation_id=-1, member_id='m-%d' % (len(members) + 1), leader='', members=[])
        members[req.member_id] = req.protocols[0].metadata
        state['gen'] += 1
        return R(error_code=0, generation_id=state['gen'], protocol_type='consumer', protocol_name='range', leader=req.member_id, member_id=req.member_id,
                 members=[R.JoinGroupResponseMember(member_id=m, metadata=md) for m, md in members.items()])
    if key == 14:
        mine = [a.assignment for a in req.assignments if a.member_id == req.member_id]
        print('sync assignments', [(a.member_id, bytes(a.assignment).hex()) for a in req.assignments], flush=True)
        return R(error_code=0, protocol_type='consumer', protocol_name='range', assignment=mine[0] if mine else b'')
    if key == 12: return R(error_code=0)
    if key == 13: members.clear(); return R(error_code=0, members=[R.MemberResponse(member_id=m.member_id, error_code=0) for m in req.members])
    if key == 9:
        def parts(topics):
            return [(t.name, p) for t in (topics or []) for p in t.partition_indexes]
        if version >= 8:
            g = req.groups[0]
            names = parts(g.topics) if g.topics is not None else [(n, p) for (gr, n, p) in commits if gr == g.group_id]
            T = R.OffsetFetchResponseGroup.OffsetFetchResponseTopics
            return R(groups=[R.OffsetFetchResponseGroup(group_id=g.group_id, error_code=0, topics=[T(name=n, partitions=[T.OffsetFetchResponsePartitions(partition_index=p, committed_offset=commits.get((g.group_id, n, p), -1), committed_leader_epoch=-1, metadata='', error_code=0)]) for n, p in names])])
        names = parts(req.topics) if req.topics is not None else [(n, p) for (gr, n, p) in commits if gr == req.group_id]
        T = R.OffsetFetchResponseTopic
        return R(error_code=0, topics=[T(name=n, partitions=[T.OffsetFetchResponsePartition(partition_index=p, committed_offset=commits.get((req.group_id, n, p), -1), committed_leader_epoch=-1, metadata='', error_code=0)]) for n, p in names])
    if key == 8:
        for t in req.topics:
            for p in t.partitions: commits[(req.group_id, t.name, p.partition_index)] = p.committed_offset
        print('commit', req.generation_id_or_member_epoch, req.member_id, dict(commits), flush=True)
        T = R.OffsetCommitResponseTopic
        return R(topics=[T(name=t.name, partitions=[T.OffsetCommitResponsePartition(partition_index=p.partition_index, error_code=0) for p in t.partitions]) for t in req.topics])
    if key == 2:
        T = R.ListOffsetsTopicResponse
        return R(topics=[T(name=t.name, partitions=[T.ListOffsetsPartitionResponse(partition_index=p.partition_index, error_code=0, timestamp=-1, offset=(0 if p.timestamp == -2 else len(logs[t.name][p.partition_index])), leader_epoch=0) for p in t.partitions]) for t in req.topics])
    if key == 0:
        T = R.TopicProduceResponse
        out = []
        for t in req.topic_data:
            ps = []
            for p in t.partition_data:
                log = logs[t.name]
                base = len(log[p.index])
                for rec in MemoryRecords(bytes(p.records)):
                    for r in rec:
                        log[p.index].append((r.key, r.value))
                ps.append(T.PartitionProduceResponse(index=p.index, error_code=0, base_offset=base, log_append_time_ms=-1, log_start_offset=0))
            out.append(T(name=t.name, partition_responses=ps))
        return None if req.acks == 0 else R(responses=out)
    if key == 1:
        T = R.FetchableTopicResponse
        resp = []
        for t in req.topics:
            ps = []
            log = logs[t.topic]
            for p in t.partitions:
                ps.append(T.PartitionData(partition_index=p.partition, error_code=0, high_watermark=len(log[p.partition]), last_stable_offset=len(log[p.partition]), log_start_offset=0, aborted_transactions=[], preferred_read_replica=-1, records=batch(t.topic, p.partition, p.fetch_offset)))
            resp.append(T(topic=t.topic, partitions=ps))
        if all(len(logs[t.topic][p.partition]) <= p.fetch_offset for t in req.topics for p in t.partitions):
            time.sleep(req.max_wait_ms / 1000)
        return R(error_code=0, session_id=0, responses=resp)
    if key == 16:
        return R(error_code=0, groups=[R.ListedGroup(group_id='g1', protocol_type='consumer', group_state='Stable' if members else 'Empty')])
    if key == 15:
        M = R.DescribedGroup.DescribedGroupMember
        return R(groups=[R.DescribedGroup(error_code=0, group_id=g, group_state='Stable' if members else 'Empty', protocol_type='consumer', protocol_data='range', members=[M(member_id=m, client_id='amq-cli', client_host='/127.0.0.1', member_metadata=md, member_assignment=b'') for m, md in members.items()]) for g in req.groups])
    raise Exception('unhandled %d' % key)

def serve(conn):
    buf = b''
    while True:
        data = conn.recv(65536)
        if not data: return
        buf += data
        while len(buf) >= 4:
            size = struct.unpack('>i', buf[:4])[0]
            if len(buf) < 4 + size: break
            frame, buf = buf[4:4 + size], buf[4 + size:]
            key, version, corr = struct.unpack('>hhi', frame[:8])
            Req, Resp = CLASSES[key]
            req = Req.decode(frame, version=version, header=True)  # raises on any encoding mismatch
            print('req', Req.__name__, 'v%d' % version, 'corr', corr, flush=True)
            resp = handle(key, version, req)
            if resp is None: continue
            resp.API_VERSION = version
            resp.with_header(correlation_id=corr)
            conn.sendall(resp.encode(header=True, framed=True))

s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', PORT)); s.listen()
print('listening', PORT, flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
