"""Memory soak (issue 14, item 4): one agent under full-speed produce and consume; its resident
set must stay under BUDGET + 64 MiB the whole time, and flat. CI runs two minutes of it
(`MemorySoakTests`); `--seconds 3600` is the hour-long run.

Usage: memory_soak.py --amq AMQ [--seconds 120] [--budget BYTES] [--no-consumer]
Creates a one-agent local cluster in a temporary directory (removed at the end) with
`agent.memory.bytes` = BUDGET (default: the cluster default, 384 MiB), produces 1 KiB records as
fast as confluent-kafka can (acks=all) while a consumer reads them back, samples the agent's VmRSS
every second, and prints the samples' quartiles. Exits 1 (FAIL) when a sample is over the bound,
or when the last quarter's mean is more than 64 MiB above the second quarter's (memory that keeps
growing). Prints PASS otherwise.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, threading, time, urllib.request

from confluent_kafka import Consumer, Producer

MiB = 1 << 20


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


PARTS = ["amq_process_resident_bytes", "amq_storage_uncommitted_bytes", "amq_storage_router_uncommitted_bytes", "amq_storage_log_cache_bytes",
         "amq_storage_block_cache_bytes"]


def memory_parts(url):
    """What the agent's /metrics says each counted part holds."""
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in PARTS:
            values[name.removeprefix("amq_storage_").removeprefix("amq_process_")] = float(value)
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--amq", required=True)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--budget", type=int, default=384 * MiB, help="agent.memory.bytes")
    parser.add_argument("--no-consumer", action="store_true", help="produce only (to tell the write path's memory from the read path's)")
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="amq-soak-")
    env = dict(os.environ, AMQ_DATA_DIR=data)
    for key in ("AMQ_DB", "AMQ_CLUSTER", "AMQ_BOOTSTRAP"):
        env.pop(key, None)

    def amq(*words):
        return subprocess.run([args.amq, *words], env=env, check=True, capture_output=True, text=True).stdout

    try:
        amq("cluster", "create", "soak", "--local", "--zones", "a", "--agents-per-zone", "1", "--setting", f"agent.memory.bytes={args.budget}")
        # A minute of retention: at full speed the store takes ~15 GB a minute, and an hour's run
        # must not fill the disk (the controller's retention and compaction run meanwhile).
        amq("topic", "create", "soak", "--partitions", "6", "--config", "linger.ms=5", "--config", "retention.ms=60000")
        agent = json.loads(amq("cluster", "status", "--format", "json"))["agents"][0]
        pid, bootstrap = agent["pid"], f"{agent['host']}:{agent['kafkaPort']}"
        metrics_url = f"http://{agent['host']}:{agent['adminPort']}/metrics"
        stop = threading.Event()
        # Set when a client thread ends, which before `stop` means it died: the run ends then.
        ended = threading.Event()
        counts = {"produced": 0, "consumed": 0, "errors": 0}

        def produce():
            try:
                run_producer()
            finally:
                ended.set()

        def consume():
            try:
                run_consumer()
            finally:
                ended.set()

        def run_producer():
            producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "batch.size": 1_000_000,
                                 "queue.buffering.max.kbytes": 256 * 1024, "message.timeout.ms": 60000})
            payload = os.urandom(1024)

            def report(err, _):
                if err is None:
                    counts["produced"] += 1
                else:
                    counts["errors"] += 1
            while not stop.is_set():
                try:
                    producer.produce("soak", payload, on_delivery=report)
                except BufferError:
                    producer.poll(0.01)
                producer.poll(0)
            producer.flush(30)

        def run_consumer():
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "soak", "auto.offset.reset": "earliest",
                                 "fetch.max.bytes": 50 * MiB, "enable.auto.commit": True})
            consumer.subscribe(["soak"])
            while not stop.is_set():
                for message in consumer.consume(1000, 0.5):
                    if message.error() is None:
                        counts["consumed"] += 1
            consumer.close()

        threads = [threading.Thread(target=produce)] + ([] if args.no_consumer else [threading.Thread(target=consume)])
        for thread in threads:
            thread.start()
        samples = []
        peak_parts = {}
        deadline = time.monotonic() + args.seconds
        # One sample a second until the deadline, or until a client thread ends early.
        while time.monotonic() < deadline:
            samples.append(rss(pid))
            if samples[-1] == max(samples):
                peak_parts = memory_parts(metrics_url)
            if ended.wait(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                break
        died = ended.is_set()
        stop.set()
        for thread in threads:
            thread.join(60)
        bound = args.budget + 64 * MiB
        quarter = max(1, len(samples) // 4)
        second = sum(samples[quarter:2 * quarter]) / max(1, len(samples[quarter:2 * quarter]))
        last = sum(samples[-quarter:]) / quarter
        print(f"{args.seconds:.0f} s, budget {args.budget // MiB} MiB: RSS min {min(samples) // MiB} / max {max(samples) // MiB} MiB, "
              f"second quarter {second / MiB:.0f} MiB, last quarter {last / MiB:.0f} MiB; "
              f"produced {counts['produced']} ({counts['produced'] / args.seconds / 1000:.1f} MB/s), consumed {counts['consumed']}, errors {counts['errors']}")
        print("at the peak, MiB: " + ", ".join(f"{name} {value / MiB:.0f}" for name, value in peak_parts.items()))
        if died:
            print("FAIL: a client thread ended before the run did (see its traceback above)")
            sys.exit(1)
        if max(samples) > bound:
            print(f"FAIL: RSS reached {max(samples) // MiB} MiB, over {bound // MiB} MiB")
            sys.exit(1)
        if last > second + 64 * MiB:
            print(f"FAIL: RSS kept growing ({second / MiB:.0f} → {last / MiB:.0f} MiB)")
            sys.exit(1)
        if counts["produced"] == 0 or (counts["consumed"] == 0 and not args.no_consumer):
            print("FAIL: nothing went through")
            sys.exit(1)
        print("PASS")
    finally:
        subprocess.run([args.amq, "cluster", "stop", "soak", "--timeout", "10"], env=env, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
