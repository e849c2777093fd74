"""One Kafka client (or S3 set-up step) of the zone-routing harness, run by zone_routing_test.py
inside a zone's network namespace (`ip netns exec NS python zone_worker.py ...`), so every byte it
moves is seen by the harness's nftables counters on the bridge.

Sub-commands (each prints one JSON line on stdout when it has finished its job):
  s3init     create the bucket on the region's SeaweedFS, waiting until it accepts writes
  routing    wait until the zone's agents report a topic's routing switch in /v1/state
  watermarks print the high watermark of every partition of a topic
  produce    an idempotent producer (acks=all); record value = b"PRODUCER:SEQ:" + padding, sent
             to partition SEQ % PARTITIONS, so the checker can verify order per producer and
             partition; stops after --bytes, or once --stop-file exists (and --min-records sent)
  consume    one member of a consumer group: reads from --start offsets (or the group's commits)
             up to --end offsets, writes "partition offset producer seq length" lines to --out,
             prints "done", and stays in the group until --stop-file exists (leaving earlier would
             rebalance the others mid-read)
"""
import argparse
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Conformance"))
from waiting import until  # noqa: E402  (shared deadline helper, Tests/Conformance/waiting.py)


def emit(obj):
    print(json.dumps(obj), flush=True)


def sigv4_request(endpoint, method, path, body=b""):
    """A path-style S3 request signed with AWS Signature V4 (stdlib only), with the test
    credentials of Tests/AMQTestSupport/S3TestServers.swift (taken from the environment)."""
    import datetime
    import hashlib
    import hmac
    from urllib.parse import urlparse
    access = os.environ.get("AWS_ACCESS_KEY_ID", "amqtest")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "amqtestsecret")
    region, service = "us-east-1", "s3"
    host = urlparse(endpoint).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, path, "", "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)), signed, payload_hash])
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint + path, data=body if method == "PUT" else None, method=method)
    for k, v in headers.items():
        if k != "host":
            req.add_header(k, v)
    req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (access, scope, signed, signature))
    # No proxy: the region's address exists only inside the test's namespaces.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=3) as resp:
        return resp.status


def s3init(args):
    # Ready once a signed bucket and object write succeed, as S3TestServer.acceptsWrites does
    # (Tests/AMQTestSupport/S3TestServers.swift): SeaweedFS needs its master elected and a volume
    # registered before writes do.
    last = [None]

    def attempt():
        try:
            sigv4_request(args.endpoint, "PUT", "/" + args.bucket)
        except urllib.error.HTTPError as e:
            if e.code != 409:  # BucketAlreadyOwnedByYou on a retry
                last[0] = "create bucket: %s" % e
                return False
        except Exception as e:  # refusals while it starts are expected
            last[0] = "create bucket: %s" % e
            return False
        try:
            sigv4_request(args.endpoint, "PUT", "/%s/zr-probe" % args.bucket, b"probe")
            sigv4_request(args.endpoint, "DELETE", "/%s/zr-probe" % args.bucket)
            return True
        except Exception as e:
            last[0] = "write probe: %s" % e
            return False
    try:
        until(attempt, "SeaweedFS at %s to accept writes" % args.endpoint, timeout=args.timeout)
    except AssertionError:
        print("last error: %s" % last[0], file=sys.stderr)
        raise
    emit({"s3": "ready", "bucket": args.bucket})


def routing(args):
    """Waits until every agent at --admin (host:port,...) reports --topic's routing switch as
    --enabled in /v1/state (Sources/AMQAgent/Control/AgentState.swift, AgentView)."""
    want = args.enabled == "true"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with open(args.secret_file) as f:
        authorization = "Bearer " + f.read().strip()

    def switched(admin):
        try:
            request = urllib.request.Request("http://%s/v1/state" % admin, headers={"Authorization": authorization})
            with opener.open(request, timeout=3) as resp:
                view = json.loads(resp.read())
        except Exception:
            return False
        for topic in view.get("topics", []):
            if topic.get("name") == args.topic:
                return topic.get("routeEnabled", topic.get("route_enabled")) == want
        return False
    for admin in args.admin.split(","):
        until(lambda admin=admin: switched(admin), "agent %s to see routing %s on %s" % (admin, args.enabled, args.topic),
              timeout=args.timeout)
    emit({"routing": args.enabled, "topic": args.topic, "agents": args.admin})


def client_config(args):
    conf = {"bootstrap.servers": args.bootstrap}
    if args.client_id:
        conf["client.id"] = args.client_id
    return conf


def watermarks(args):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(dict(client_config(args), **{"group.id": "zr-watermarks", "enable.auto.commit": False}))
    out = {}
    for p in range(args.partitions):
        def high(p=p):
            try:
                return c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=5)
            except Exception:
                return None
        out[p] = until(high, "watermarks of %s[%d]" % (args.topic, p), timeout=args.timeout)[1]
    c.close()
    emit(out)


def produce(args):
    from confluent_kafka import Producer
    conf = dict(client_config(args), **{
        "enable.idempotence": True, "acks": "all", "linger.ms": 20, "compression.type": "none",
        "message.timeout.ms": int(args.timeout * 1000), "queue.buffering.max.kbytes": 16384,
        "batch.size": 1000000,
    })
    p = Producer(conf)
    pad = random.Random(args.producer).randbytes(args.value_size)
    acked, errors = [0], []
    payload = [0]

    def report(err, msg):
        if err:
            errors.append(str(err))
        else:
            acked[0] += 1
            payload[0] += len(msg.value())

    deadline = time.time() + args.timeout
    seq = 0
    last_progress = 0.0
    while time.time() < deadline:
        if args.stop_file:
            if seq >= args.min_records and os.path.exists(args.stop_file):
                break
        elif seq * args.value_size >= args.bytes:
            break
        head = ("%s:%d:" % (args.producer, seq)).encode()
        value = head + pad[: max(0, args.value_size - len(head))]
        while True:
            try:
                p.produce(args.topic, value=value, partition=seq % args.partitions, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        seq += 1
        p.poll(0)
        if args.progress_file and time.time() - last_progress > 0.1:
            last_progress = time.time()
            with open(args.progress_file + ".tmp", "w") as f:
                f.write(str(acked[0]))
            os.replace(args.progress_file + ".tmp", args.progress_file)
        if args.stop_file and seq % 50 == 0:
            # Pace a stop-file producer by acknowledgements so it spans the orchestrator's
            # route toggles instead of queueing everything up front.
            p.flush(max(1, deadline - time.time()))
    remaining = p.flush(max(1, deadline - time.time()))
    emit({"producer": args.producer, "sent": seq, "acked": acked[0], "payload_bytes": payload[0],
          "errors": errors[:5], "error_count": len(errors), "unflushed": remaining})
    sys.exit(0 if not errors and remaining == 0 and acked[0] == seq else 1)


def consume(args):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_INVALID
    start = {int(k): v for k, v in json.loads(args.start).items()}
    end = {int(k): v for k, v in json.loads(args.end).items()}
    share = args.partitions // args.members
    conf = dict(client_config(args), **{
        "group.id": args.group, "enable.auto.commit": True, "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
    })
    c = Consumer(conf)
    state = {"assigned": [], "reading": False}
    next_offset = {}

    def on_assign(consumer, partitions):
        committed = consumer.committed(partitions, timeout=10)
        for tp, com in zip(partitions, committed):
            # The group's commit wins over --start, so a rebalance never reads a record twice.
            tp.offset = com.offset if com.offset not in (OFFSET_INVALID, -1001) and com.offset >= 0 else start[tp.partition]
            next_offset[tp.partition] = tp.offset
        consumer.assign(partitions)
        state["assigned"] = [tp.partition for tp in partitions]
        # Read only once every member holds its share (one member per zone): otherwise the first
        # member to join would read every partition before the others arrive.
        state["reading"] = len(partitions) == share
        if not state["reading"] and partitions:
            consumer.pause(partitions)

    def on_revoke(consumer, partitions):
        state["assigned"] = []
        state["reading"] = False

    c.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    records = []
    payload = 0
    deadline = time.time() + args.timeout
    done_printed = False
    while time.time() < deadline:
        msg = c.poll(0.2)
        if msg is not None and not msg.error():
            value = msg.value() or b""
            parts = value.split(b":", 2)
            records.append("%d %d %s %s %d" % (msg.partition(), msg.offset(), parts[0].decode(errors="replace"),
                                               parts[1].decode(errors="replace") if len(parts) > 1 else "?", len(value)))
            payload += len(value) + len(msg.key() or b"")
            next_offset[msg.partition()] = msg.offset() + 1
        elif msg is not None and msg.error():
            print("consumer error: %s" % msg.error(), file=sys.stderr, flush=True)
        finished = state["reading"] and all(next_offset.get(p, -1) >= end[p] for p in state["assigned"])
        if finished and not done_printed:
            with open(args.out, "w") as f:
                f.write("\n".join(records) + ("\n" if records else ""))
            try:
                c.commit(asynchronous=False)
            except Exception:  # nothing consumed since the last commit
                pass
            emit({"consumer": args.client_id, "done": True, "partitions": sorted(state["assigned"]),
                  "records": len(records), "payload_bytes": payload})
            done_printed = True
        if done_printed and os.path.exists(args.stop_file):
            break
    c.close()
    if not done_printed:
        with open(args.out, "w") as f:
            f.write("\n".join(records) + ("\n" if records else ""))
        emit({"consumer": args.client_id, "done": False, "partitions": sorted(state["assigned"]),
              "records": len(records), "payload_bytes": payload,
              "positions": next_offset, "end": end})
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("s3init")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--bucket", required=True)
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("routing")
    s.add_argument("--admin", required=True)
    s.add_argument("--secret-file", required=True, help="the cluster secret: /v1/state needs it")
    s.add_argument("--topic", required=True)
    s.add_argument("--enabled", choices=["true", "false"], required=True)
    s.add_argument("--timeout", type=float, default=30)
    for name in ("watermarks", "produce", "consume"):
        s = sub.add_parser(name)
        s.add_argument("--bootstrap", required=True)
        s.add_argument("--topic", required=True)
        s.add_argument("--client-id", default="")
        s.add_argument("--partitions", type=int, required=True)
        s.add_argument("--timeout", type=float, default=120)
        if name == "produce":
            s.add_argument("--producer", required=True)
            s.add_argument("--bytes", type=int, default=0)
            s.add_argument("--value-size", type=int, default=16384)
            s.add_argument("--stop-file", default="")
            s.add_argument("--min-records", type=int, default=0)
            s.add_argument("--progress-file", default="")
        if name == "consume":
            s.add_argument("--group", required=True)
            s.add_argument("--members", type=int, required=True)
            s.add_argument("--start", required=True)
            s.add_argument("--end", required=True)
            s.add_argument("--out", required=True)
            s.add_argument("--stop-file", required=True)
    args = ap.parse_args()
    {"s3init": s3init, "routing": routing, "watermarks": watermarks, "produce": produce, "consume": consume}[args.cmd](args)


if __name__ == "__main__":
    main()
