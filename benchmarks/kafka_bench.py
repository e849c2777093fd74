"""Produce and consume through an amq cluster with a real client (confluent-kafka, librdkafka).

Usage: kafka_bench.py BOOTSTRAP TOPIC PARTITIONS RECORD_BYTES SECONDS RATE
$BENCH_CLIENT_ID, when set, is the producer's and consumer's client.id (`amq_az=b`: with zone
routing on, both go through zone b's agent). $BENCH_CONFIG, a JSON object, adds librdkafka
settings to both (security.protocol, sasl.*, ssl.ca.location for a secured cluster).
Prints one JSON object:
  latency phase — RATE records/s for SECONDS, client linger.ms=0: p50/p99/p99.9 of
  send-to-acknowledgement;
  throughput phase — produce as fast as the client can for SECONDS (acks=all, linger.ms=5,
  no compression): MB/s and records/s from first send to last acknowledgement; then everything
  is consumed back from offset 0: MB/s.
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, topic, partitions, size, seconds, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
payload = os.urandom(size)
config = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "compression.type": "none",
          "queue.buffering.max.kbytes": 512 * 1024, "queue.buffering.max.messages": 1_000_000,
          "batch.size": 1_000_000, "message.max.bytes": 1_000_000}
client = {"client.id": os.environ["BENCH_CLIENT_ID"]} if os.environ.get("BENCH_CLIENT_ID") else {}
client.update(json.loads(os.environ.get("BENCH_CONFIG") or "{}"))
config.update(client)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def produce_for(duration, pace=None):
    # At a fixed low rate the client sends each record at once (linger.ms=0): the latency is then
    # amq's, not the client's batching.
    producer = Producer(dict(config, **({"linger.ms": 0} if pace else {})))
    latencies, errors, acked = [], [], [0]

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            acked[0] += 1
            latencies.append(msg.latency())

    sent = 0
    start = time.perf_counter()
    while time.perf_counter() - start < duration:
        if pace:
            due = start + sent / pace
            while time.perf_counter() < due:
                producer.poll(0.0005)
        try:
            producer.produce(topic, value=payload, partition=sent % partitions, on_delivery=report)
            sent += 1
        except BufferError:
            producer.poll(0.001)
        if sent % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} delivery errors, first: {errors[0]}")
    return acked[0], elapsed, latencies


# Latency first, on a fresh topic of a steady cluster; then the full-speed phase, whose backlog
# (gigabytes of small objects for the controller to compact) would otherwise colour it.
_, _, latencies = produce_for(seconds, pace=rate)
count, elapsed, _ = produce_for(seconds)
result = {
    "record_bytes": size,
    "produce_mb_s": count * size / elapsed / 1e6,
    "produce_records_s": count / elapsed,
    "records": count,
    "latency_rate": rate,
    "p50_ms": percentile(latencies, 0.50) * 1000,
    "p99_ms": percentile(latencies, 0.99) * 1000,
    "p999_ms": percentile(latencies, 0.999) * 1000,
}
total = count + len(latencies)
result["total_records"] = total

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-" + topic, "enable.auto.commit": False,
                     "fetch.max.bytes": 50 * 1024 * 1024, "max.partition.fetch.bytes": 8 * 1024 * 1024, **client})
consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
got, start = 0, time.perf_counter()
deadline = start + 300
while got < total and time.perf_counter() < deadline:
    for message in consumer.consume(10000, 1.0):
        if not message.error():
            got += 1
consumer_elapsed = time.perf_counter() - start
consumer.close()
if got < total:
    raise SystemExit(f"consumed {got} of {total}")
result["consume_mb_s"] = got * size / consumer_elapsed / 1e6
result["consume_records_s"] = got / consumer_elapsed
print(json.dumps(result))
