"""The chaos harness (issue 11): a three-zone local amq cluster on SeaweedFS behind a
fault-injecting S3 proxy, idempotent producers and consumer-group members, and at seeded random
moments: agents SIGKILLed, the controller SIGKILLed, a node drained, a whole zone stopped, S3
fault storms (503 SlowDown, slow answers, dropped connections, answers lost after the request
landed). Then every partition is read back and checked:

- every acknowledged record is there exactly once, at the offset it was acknowledged at;
- per producer and partition, records are in the order they were sent;
- nothing is read that was not sent, nor anything acknowledged as failed... unless its delivery
  failed ambiguously (a timed-out send may or may not have landed: Kafka's semantics);
- produce resumes within 5 s of `amq cluster start` returning after a controller kill.

Usage: chaos.py --amq PATH [--duration SECONDS] [--seed N] [--report FILE] [--json FILE]
A failing run prints its seed; the same seed replays the same schedule of faults. Needs the test
virtual environment (confluent-kafka; SeaweedFS's `weed` on PATH). Prints PASS and exits 0.
"""
import argparse
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Conformance"))
from waiting import until  # noqa: E402

PARTITIONS = 6
TOPIC = "chaos"
RESUME_LIMIT = 5.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- The fault-injecting S3 proxy -------------------------------------------------------------

class Faults:
    """What the proxy does to each request: nothing, or (during a storm, or now and then) one fault,
    drawn from its own seeded generator."""

    def __init__(self, seed):
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.storm = 0.0
        self.baseline = 0.01
        self.counts = {"slowdown": 0, "slow": 0, "drop": 0, "lost-answer": 0, "hang": 0}

    def draw(self):
        with self.lock:
            if self.random.random() >= max(self.storm, self.baseline):
                return None
            fault = self.random.choice(["slowdown", "slowdown", "slow", "drop", "lost-answer", "hang"])
            self.counts[fault] += 1
            return fault


def make_proxy(upstream_port, faults):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = faults.draw()
            if fault == "slowdown":
                payload = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>chaos</Message></Error>"
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if fault == "drop":
                self.close_connection = True
                return
            if fault == "slow":
                time.sleep(faults.random.uniform(0.3, 1.5))
            if fault == "hang":
                time.sleep(6)
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            upstream.close()
            if fault == "lost-answer":
                # The request landed; its answer never arrives.
                self.close_connection = True
                return
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address):
            # A client that gave up on a hung or slow answer closed its end: expected here.
            error = sys.exc_info()[1]
            if not isinstance(error, (BrokenPipeError, ConnectionResetError)):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- The cluster ---------------------------------------------------------------------------------

class Cluster:
    def __init__(self, amq, data_dir, env):
        self.amq, self.data_dir, self.env = amq, data_dir, env

    def run(self, *args, check=True, timeout=120):
        result = subprocess.run([self.amq, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError("amq %s exited %d: %s" % (" ".join(args), result.returncode, result.stderr[-2000:]))
        return result

    def status(self):
        return json.loads(self.run("cluster", "status", "chaos", "--format", "json").stdout)

    def bootstrap(self):
        agents = self.status()["agents"]
        return ",".join("%s:%d" % (a["host"], a["kafkaPort"]) for a in agents if a.get("kafkaPort"))


# --- Clients -------------------------------------------------------------------------------------

class Producers:
    """Idempotent producers, each sending `P{id}-{seq}` round-robin over the partitions, paced."""

    def __init__(self, bootstrap, count, zones):
        self.acked = {}  # value -> (partition, offset)
        self.failed = set()
        self.errors = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last_ack = 0.0
        self.sent = 0
        self.threads = []
        for index in range(count):
            zone = zones[index % len(zones)]
            producer = Producer({
                "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                "message.timeout.ms": 90000, "retry.backoff.ms": 100, "client.id": "amq_az=%s" % zone,
                "metadata.max.age.ms": 5000, "topic.metadata.refresh.interval.ms": 2000,
            })
            thread = threading.Thread(target=self.produce, args=(index, producer), daemon=True)
            self.threads.append(thread)

    def start(self):
        for thread in self.threads:
            thread.start()

    def report(self, err, msg):
        value = msg.value().decode()
        with self.lock:
            if err:
                self.failed.add(value)
                self.errors.append(str(err))
            else:
                self.acked[value] = (msg.partition(), msg.offset())
                self.last_ack = time.time()

    def produce(self, index, producer):
        seq = 0
        while not self.stop.is_set():
            value = "P%d-%08d" % (index, seq)
            try:
                producer.produce(TOPIC, value=value.encode(), partition=seq % PARTITIONS, on_delivery=self.report)
                seq += 1
                with self.lock:
                    self.sent += 1
            except BufferError:
                producer.poll(0.05)
            producer.poll(0)
            # About 250 records a second per producer: enough to span every fault.
            time.sleep(0.004)
        remaining = producer.flush(120)
        if remaining:
            with self.lock:
                self.errors.append("%d records never resolved" % remaining)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(180)


class GroupMembers:
    """Consumer-group members reading along with auto-commit; the group must survive the chaos."""

    def __init__(self, bootstrap, count):
        self.read = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.consume, args=(bootstrap, i), daemon=True) for i in range(count)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def consume(self, bootstrap, index):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-group", "auto.offset.reset": "earliest",
                             "client.id": "member-%d" % index, "session.timeout.ms": 10000})
        consumer.subscribe([TOPIC])
        while not self.stop.is_set():
            for message in consumer.consume(num_messages=500, timeout=0.5):
                if not message.error():
                    self.read += 1
        consumer.close()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


# --- Faults --------------------------------------------------------------------------------------

def schedule(rng, duration):
    """The faults of a run, at seeded moments: (start time, kind, parameter)."""
    events = []
    t = 4.0
    kinds = ["kill-agent", "kill-controller", "drain", "zone-stop", "s3-storm"]
    while t < duration - 8:
        kind = kinds[len(events) % len(kinds)] if len(events) < len(kinds) else rng.choice(kinds)
        events.append((t, kind, rng.random()))
        t += rng.uniform(5.0, 9.0)
    return events


def inject(kind, parameter, cluster, faults, producers, results, log):
    status = cluster.status()
    agents = sorted(status["agents"], key=lambda a: a["nodeId"])
    if kind == "kill-agent":
        victim = agents[int(parameter * len(agents))]
        os.kill(victim["pid"], signal.SIGKILL)
        log("SIGKILL agent %d" % victim["nodeId"])
        time.sleep(1.0 + 2.0 * parameter)
        cluster.run("cluster", "start", "chaos")
    elif kind == "kill-controller":
        os.kill(status["controller"]["pid"], signal.SIGKILL)
        log("SIGKILL controller")
        time.sleep(1.0 + 2.0 * parameter)
        cluster.run("cluster", "start", "chaos")
        started = time.time()
        with producers.lock:
            before = producers.last_ack
        # Produce resumed once a record is acknowledged after the restart returned.
        until(lambda: producers.last_ack > max(before, started), "produce to resume after a controller restart", timeout=60, interval=0.02)
        with producers.lock:
            resumed = producers.last_ack - started
        results["resume_seconds"].append(round(max(resumed, 0.0), 3))
        log("controller back; produce resumed %.2f s after start returned" % resumed)
    elif kind == "drain":
        victim = agents[int(parameter * len(agents))]
        cluster.run("node", "drain", str(victim["nodeId"]))
        log("drained node %d" % victim["nodeId"])
        time.sleep(3.0)
        cluster.run("node", "activate", str(victim["nodeId"]))
        cluster.run("cluster", "rebalance", "chaos", check=False)
    elif kind == "zone-stop":
        zones = sorted({a["zone"] for a in agents})
        zone = zones[int(parameter * len(zones))]
        for agent in agents:
            if agent["zone"] == zone and agent.get("pid"):
                os.kill(agent["pid"], signal.SIGTERM)
        log("stopped zone %s" % zone)
        until(lambda: all(not alive(a["pid"]) for a in agents if a["zone"] == zone and a.get("pid")),
              "zone %s's agents to stop" % zone, timeout=20)
        time.sleep(2.0)
        cluster.run("cluster", "start", "chaos")
    elif kind == "s3-storm":
        faults.storm = 0.25
        log("S3 fault storm")
        time.sleep(4.0 + 3.0 * parameter)
        faults.storm = 0.0
    results["faults"][kind] = results["faults"].get(kind, 0) + 1


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


# --- Reading back --------------------------------------------------------------------------------

def read_back(bootstrap):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-verify", "enable.auto.commit": False})
    log = {}
    for partition in range(PARTITIONS):
        tp = TopicPartition(TOPIC, partition)
        low, high = consumer.get_watermark_offsets(tp, timeout=30)
        consumer.assign([TopicPartition(TOPIC, partition, low)])
        records = []

        def caught_up():
            if high <= low:
                return True
            for message in consumer.consume(num_messages=2000, timeout=0.5):
                if message.error():
                    continue
                records.append((message.offset(), message.value().decode()))
                if message.offset() + 1 >= high:
                    return True
            return False

        until(caught_up, "partition %d read to %d" % (partition, high), timeout=120)
        log[partition] = records
    consumer.close()
    return log


def verify(log, producers):
    problems = []
    seen = {}
    for partition, records in log.items():
        offsets = [offset for offset, _ in records]
        if offsets != sorted(set(offsets)):
            problems.append("partition %d: offsets repeat or go backwards" % partition)
        last = {}
        for offset, value in records:
            seen.setdefault(value, []).append((partition, offset))
            try:
                producer, seq = value[1:].split("-")
                producer, seq = int(producer), int(seq)
            except ValueError:
                problems.append("partition %d offset %d: %r was never sent" % (partition, offset, value))
                continue
            if seq % PARTITIONS != partition:
                problems.append("%s found in partition %d" % (value, partition))
            if last.get(producer, -1) >= seq:
                problems.append("partition %d: %s after P%d-%08d (out of order)" % (partition, value, producer, last[producer]))
            last[producer] = seq
    duplicated = {value: places for value, places in seen.items() if len(places) > 1}
    lost = [value for value, place in producers.acked.items() if value not in seen]
    moved = [value for value, place in producers.acked.items() if value in seen and place not in seen[value]]
    unexpected = [value for value in seen if value not in producers.acked and value not in producers.failed]
    for value in lost[:5]:
        problems.append("acknowledged %s at %s is missing" % (value, producers.acked[value]))
    for value in moved[:5]:
        problems.append("acknowledged %s at %s is at %s" % (value, producers.acked[value], seen[value]))
    for value in list(duplicated)[:5]:
        problems.append("%s is stored %d times: %s" % (value, len(duplicated[value]), duplicated[value]))
    for value in unexpected[:5]:
        problems.append("%s was read but never acknowledged nor failed" % value)
    return problems, {"lost": len(lost), "duplicated": len(duplicated), "moved": len(moved), "unexpected": len(unexpected),
                      "stored": sum(len(r) for r in log.values())}


# --- The run -------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--amq", required=True)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report", help="markdown file whose chaos results section is rewritten")
    parser.add_argument("--json", help="where to write the results as JSON")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1 << 31)
    rng = random.Random(seed)
    began = time.time()

    def log(text):
        print("[%6.1f] %s" % (time.time() - began, text), flush=True)

    log("seed %d, duration %.0f s" % (seed, args.duration))
    work = tempfile.mkdtemp(prefix="amq-chaos-")
    processes = []
    cluster = None
    try:
        weed = shutil.which("weed")
        if not weed:
            raise RuntimeError("weed (SeaweedFS) is not on PATH; run scripts/test.sh, which installs it")
        s3_port = free_port()
        ports = [free_port() for _ in range(7)]
        os.makedirs(work + "/weed")
        weed_log = open(work + "/weed.log", "w")
        processes.append(subprocess.Popen([
            weed, "server", "-dir=%s/weed" % work, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.port=%d" % ports[0], "-master.port.grpc=%d" % ports[1], "-volume.port=%d" % ports[2],
            "-volume.port.grpc=%d" % ports[3], "-filer.port=%d" % ports[4], "-filer.port.grpc=%d" % ports[5],
            "-s3", "-s3.port=%d" % s3_port, "-s3.port.grpc=%d" % ports[6], "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-volume.max=0", "-master.volumeSizeLimitMB=64",
        ], stdout=weed_log, stderr=subprocess.STDOUT, cwd=work))
        faults = Faults(rng.randrange(1 << 30))
        proxy = make_proxy(s3_port, faults)
        endpoint = "http://127.0.0.1:%d" % proxy.server_address[1]
        env = dict(os.environ, AMQ_DATA_DIR=work + "/amq", AWS_ACCESS_KEY_ID="chaos", AWS_SECRET_ACCESS_KEY="chaos-secret",
                   AWS_REGION="us-east-1")
        for key in ("AMQ_DB", "AMQ_CLUSTER", "AMQ_BOOTSTRAP"):
            env.pop(key, None)
        cluster = Cluster(args.amq, work + "/amq", env)

        def bucket_ready():
            try:
                connection = http.client.HTTPConnection("127.0.0.1", s3_port, timeout=5)
                connection.request("PUT", "/chaos")
                status = connection.getresponse().status
                connection.close()
                return status in (200, 409)
            except OSError:
                return False

        until(bucket_ready, "SeaweedFS to take a bucket", timeout=90, interval=0.2)

        def created():
            result = cluster.run("cluster", "create", "chaos", "--local", "--zones", "a,b,c", "--agents-per-zone", "1",
                                 "--object-store", "s3://chaos/run?endpoint=%s" % endpoint, check=False)
            if result.returncode != 0 and "already exists" not in result.stderr:
                log("cluster create failed, retrying: %s" % result.stderr.strip()[-300:])
                cluster.run("cluster", "delete", "chaos", check=False)
                return False
            return True

        until(created, "the cluster to be created", timeout=120, interval=1.0)
        cluster.run("topic", "create", TOPIC, "--partitions", str(PARTITIONS), "--config", "linger.ms=5")
        cluster.run("topic", "route-enable", TOPIC)
        bootstrap = cluster.bootstrap()
        log("cluster up: %s" % bootstrap)

        producers = Producers(bootstrap, 2, ["a", "b"])
        members = GroupMembers(bootstrap, 2)
        producers.start()
        members.start()
        until(lambda: len(producers.acked) >= 200, "the first acknowledgements", timeout=60)
        results = {"seed": seed, "duration_s": args.duration, "faults": {}, "resume_seconds": []}
        for at, kind, parameter in schedule(rng, args.duration):
            wait = at - (time.time() - began)
            if wait > 0:
                time.sleep(wait)
            inject(kind, parameter, cluster, faults, producers, results, log)
        faults.storm = 0.0
        faults.baseline = 0.0
        cluster.run("cluster", "start", "chaos")
        log("faults over; draining the producers")
        producers.finish()
        members.finish()
        records = read_back(cluster.bootstrap())
        problems, counts = verify(records, producers)
        results.update({
            "sent": producers.sent, "acked": len(producers.acked), "failed_deliveries": len(producers.failed),
            "group_records_read": members.read, "s3_faults": dict(faults.counts), **counts,
        })
        slow = [r for r in results["resume_seconds"] if r > RESUME_LIMIT]
        if slow:
            problems.append("produce resumed only %s s after a controller restart (limit %.0f s)" % (slow, RESUME_LIMIT))
        if producers.errors and len(producers.failed) == 0:
            problems.append("producer errors: %s" % producers.errors[:3])
        results["passed"] = not problems
        log("results: %s" % json.dumps(results, sort_keys=True))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2, sort_keys=True)
        if args.report:
            write_report(args.report, results)
        if problems:
            for problem in problems:
                log("FAIL: " + problem)
            log("replay with --seed %d" % seed)
            return 1
        print("PASS")
        return 0
    finally:
        if cluster is not None:
            try:
                cluster.run("cluster", "delete", "chaos", check=False, timeout=60)
            except Exception as error:  # noqa: BLE001 — cleanup must go on
                print("cleanup: %s" % error)
        for process in processes:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        if os.environ.get("AMQ_CHAOS_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)


def write_report(path, results):
    """Rewrites the section between the chaos markers of `path` with this run's figures."""
    begin, end = "<!-- chaos results: begin -->", "<!-- chaos results: end -->"
    text = open(path).read() if os.path.exists(path) else ""
    faults = ", ".join("%s %d" % (k, v) for k, v in sorted(results["faults"].items()))
    s3 = ", ".join("%s %d" % (k, v) for k, v in sorted(results["s3_faults"].items()))
    resume = ", ".join("%.2f" % r for r in results["resume_seconds"]) or "none"
    section = "\n".join([
        begin,
        "Last run (`Tests/Chaos/chaos.py --duration %.0f --seed %d`, %s): **%s**." % (
            results["duration_s"], results["seed"], time.strftime("%Y-%m-%d", time.gmtime()), "PASS" if results["passed"] else "FAIL"),
        "",
        "| figure | value |",
        "| --- | --- |",
        "| faults injected | %s |" % faults,
        "| S3 faults | %s |" % s3,
        "| records sent / acknowledged | %d / %d |" % (results["sent"], results["acked"]),
        "| deliveries failed (ambiguous, allowed in the log) | %d |" % results["failed_deliveries"],
        "| records stored | %d |" % results["stored"],
        "| acknowledged records lost | %d |" % results["lost"],
        "| records duplicated | %d |" % results["duplicated"],
        "| read but never sent or acknowledged | %d |" % results["unexpected"],
        "| produce resumed after controller restart (s) | %s |" % resume,
        "| records read by the consumer group meanwhile | %d |" % results["group_records_read"],
        end,
    ])
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
