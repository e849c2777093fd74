"""KIP-368 re-authentication against a SASL_SSL amq cluster, with confluent-kafka (librdkafka).

Usage: reauth_test.py --amq AMQ --cluster NAME   (AMQ_DATA_DIR set; the cluster runs with
connections.max.reauth.ms set low, e.g. 1500). A producer sends a record every 100 ms for
--seconds; every record must be delivered, and the agents must have counted more successful
SASL authentications than the producer opened connections: the client re-authenticated on its
open connections instead of being cut off.
"""
import argparse, json, ssl, subprocess, sys, time, urllib.request

from confluent_kafka import Producer


def status(amq, cluster):
    out = subprocess.run([amq, "cluster", "status", cluster, "--format", "json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def authentications(agent, security):
    context = ssl.create_default_context(cafile=security["caFile"])
    with urllib.request.urlopen(f"https://{agent['host']}:{agent['adminPort']}/metrics", context=context, timeout=5) as response:
        text = response.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("amq_kafka_sasl_authentications_total"):
            total += int(float(line.split()[-1]))
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--amq", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    info = status(args.amq, args.cluster)
    security = info["security"]
    password = open(security["adminPasswordFile"]).read().strip()
    bootstrap = ",".join(f"{a['host']}:{a['kafkaPort']}" for a in info["agents"])
    topic = f"reauth-{int(time.time())}"
    subprocess.run([args.amq, "topic", "create", topic, "--cluster", args.cluster, "--partitions", "1"], check=True, capture_output=True)
    before = sum(authentications(a, security) for a in info["agents"])
    errors, delivered = [], []
    producer = Producer({
        "bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": security["adminUser"], "sasl.password": password, "ssl.ca.location": security["caFile"],
        "enable.idempotence": True, "message.timeout.ms": 20000,
        "error_cb": lambda error: errors.append(str(error)),
    })
    sent = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        producer.produce(topic, value=f"r-{sent}".encode(), on_delivery=lambda err, msg: delivered.append(err))
        sent += 1
        producer.poll(0.1)
    remaining = producer.flush(30)
    failed = [e for e in delivered if e is not None]
    after = sum(authentications(a, security) for a in info["agents"])
    print(f"sent {sent}, delivered {len(delivered) - len(failed)}, failed {len(failed)}, unflushed {remaining}, "
          f"authentications {after - before}, client errors {errors[:3]}")
    if remaining or failed or len(delivered) != sent:
        sys.exit(f"FAIL: not every record was delivered across re-authentications: {failed[:3]}")
    # The producer holds a bootstrap and a leader connection; each re-authenticates every period.
    if after - before < 4:
        sys.exit(f"FAIL: only {after - before} authentications in {args.seconds} s: the client never re-authenticated")
    print("reauth: OK")


if __name__ == "__main__":
    main()
