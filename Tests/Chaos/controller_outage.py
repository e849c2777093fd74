"""Issue 11, finding 8, with real processes: a full-speed idempotent producer (confluent-kafka)
against a one-agent local cluster while its controller is SIGKILLed and stays away for
--outage seconds (60 by default; CI runs 15). Meanwhile the agent's resident memory must stay
bounded (backpressure counts bytes until they are committed: the WAL's share of the agent's
memory budget, 144 of the default 384 MiB, plus its caches), the
producer's requests time out and its queue fills (it is blocked, not acknowledged), and once
`amq cluster start` returns, produce resumes within 5 s. At the end every acknowledged record
reads back exactly once.

The producer keeps librdkafka's default message.timeout.ms (300 s): with one shorter than the
outage, messages expire in flight and librdkafka bumps the producer epoch (KIP-360), re-sending
possibly persisted messages under the new epoch, which any broker that answers later than the
client waits (Kafka's included) then stores twice (docs/reliability.md).

Usage: controller_outage.py --amq PATH [--outage SECONDS]. Prints its figures and PASS.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Conformance"))
from waiting import until  # noqa: E402

# The agent's bounds: its memory budget (agent.memory.bytes, 384 MiB by default: 144 uncommitted,
# 48 log cache, 96 block cache, 48 router); more than 512 MiB over its start is memory growing
# without bound.
RSS_GROWTH_LIMIT = 512 << 20
RESUME_LIMIT = 5.0


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--amq", required=True)
    parser.add_argument("--outage", type=float, default=60)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="amq-outage-")
    env = dict(os.environ, AMQ_DATA_DIR=work)
    for key in ("AMQ_DB", "AMQ_CLUSTER", "AMQ_BOOTSTRAP"):
        env.pop(key, None)

    def amq(*a):
        result = subprocess.run([args.amq, *a], env=env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError("amq %s: %s" % (" ".join(a), result.stderr[-2000:]))
        return result.stdout

    try:
        amq("cluster", "create", "outage", "--local", "--zones", "a", "--agents-per-zone", "1")
        amq("topic", "create", "load", "--partitions", "3")
        status = json.loads(amq("cluster", "status", "--format", "json"))
        agent = status["agents"][0]
        bootstrap = "%s:%d" % (agent["host"], agent["kafkaPort"])
        acked, failed, failed_keys, blocked = {}, [0], set(), [0]
        lock = threading.Lock()
        last_ack = [0.0]
        stop = threading.Event()
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                             "request.timeout.ms": 5000, "queue.buffering.max.kbytes": 262144, "batch.size": 1000000})
        payload = b"x" * 1000

        def report(err, msg):
            with lock:
                if err:
                    failed[0] += 1
                    failed_keys.add(msg.key().decode())
                else:
                    acked[msg.key().decode()] = (msg.partition(), msg.offset())
                    last_ack[0] = time.time()

        def produce():
            n = 0
            while not stop.is_set():
                try:
                    producer.produce("load", key=str(n).encode(), value=payload, on_delivery=report)
                    n += 1
                except BufferError:
                    blocked[0] += 1
                    producer.poll(0.01)
                producer.poll(0)
            producer.flush(60)

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        until(lambda: len(acked) >= 20000, "the producer to get going", timeout=60)
        baseline = rss(agent["pid"])
        acked_before = len(acked)
        blocked_before = blocked[0]
        os.kill(status["controller"]["pid"], signal.SIGKILL)
        killed = time.time()
        peak = baseline
        while time.time() - killed < args.outage:
            peak = max(peak, rss(agent["pid"]))
            time.sleep(0.25)
        with lock:
            acked_during = len(acked) - acked_before
            failed_during = failed[0]
            blocked_during = blocked[0] - blocked_before
        amq("cluster", "start", "outage")
        started = time.time()
        print("cluster start returned at %.3f" % started, flush=True)
        until(lambda: last_ack[0] > started, "produce to resume", timeout=60, interval=0.02)
        resumed = last_ack[0] - started
        until(lambda: len(acked) >= acked_before + acked_during + 20000, "produce to go on", timeout=60)
        stop.set()
        thread.join(120)
        peak = max(peak, rss(agent["pid"]))

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "outage-verify", "enable.auto.commit": False})
        stored = {}
        for partition in range(3):
            low, high = consumer.get_watermark_offsets(TopicPartition("load", partition), timeout=30)
            consumer.assign([TopicPartition("load", partition, low)])
            got = [0]

            def caught_up():
                if high <= low:
                    return True
                for m in consumer.consume(num_messages=5000, timeout=0.5):
                    if m.error():
                        continue
                    key = m.key().decode()
                    stored.setdefault(key, []).append((partition, m.offset()))
                    got[0] = m.offset()
                    if m.offset() + 1 >= high:
                        return True
                return False

            until(caught_up, "partition %d read back" % partition, timeout=180)
        consumer.close()
        lost = [k for k, place in acked.items() if place not in stored.get(k, [])]
        duplicated = [k for k, places in stored.items() if len(places) > 1]
        figures = {"outage_s": args.outage, "acked": len(acked), "acked_during_outage": acked_during,
                   "failed_during_outage": failed_during, "blocked_during_outage": blocked_during, "rss_baseline_mib": baseline >> 20, "rss_peak_mib": peak >> 20,
                   "resume_s": round(resumed, 3), "lost": len(lost), "duplicated": len(duplicated)}
        print(json.dumps(figures, sort_keys=True))
        problems = []
        if peak - baseline > RSS_GROWTH_LIMIT:
            problems.append("the agent grew from %d MiB to %d MiB while the controller was away" % (baseline >> 20, peak >> 20))
        if blocked_during == 0:
            problems.append("the producer was never held back while nothing could be committed")
        if failed[0]:
            problems.append("%d deliveries failed" % failed[0])
        if resumed > RESUME_LIMIT:
            problems.append("produce resumed %.2f s after cluster start returned (limit %.0f s)" % (resumed, RESUME_LIMIT))
        if lost:
            problems.append("%d acknowledged records lost, e.g. %s" % (len(lost), lost[:3]))
        if duplicated:
            problems.append("%d records stored twice (%d of them acknowledged, %d failed), e.g. %s" % (
                len(duplicated), sum(1 for k in duplicated if k in acked), sum(1 for k in duplicated if k in failed_keys),
                [(k, stored[k]) for k in sorted(duplicated, key=int)[:3]]))
        for problem in problems:
            print("FAIL: " + problem)
        if problems:
            return 1
        print("PASS")
        return 0
    finally:
        if os.environ.get("AMQ_OUTAGE_KEEP") == "1":
            shutil.copytree(work + "/clusters/outage/logs", work + "/logs-run")
            subprocess.run([args.amq, "cluster", "stop", "outage"], env=env, capture_output=True, timeout=60)
            print("kept", work)
        else:
            subprocess.run([args.amq, "cluster", "delete", "outage"], env=env, capture_output=True, timeout=60)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
