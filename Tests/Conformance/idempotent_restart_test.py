"""An idempotent producer (confluent-kafka) keeps producing while the partition's agent is killed
with SIGKILL and then started again (START-COMMAND), or left dead (START-COMMAND `true`: the
controller fails the partition over to another agent). Afterwards every acknowledged record is in
the log exactly once, in the order produced, and nothing appears that was not sent.

Usage: idempotent_restart_test.py BOOTSTRAP TOPIC 'KILL-COMMAND' 'START-COMMAND' [CLIENT-ID]
The topic must exist with 1 partition and be empty. CLIENT-ID (e.g. `amq_az=b`) is the producer's
and consumer's client.id: with zone routing on, it sends them through that zone's agent. Prints
PASS and exits 0.
"""
import subprocess
import sys
import threading

from confluent_kafka import Consumer, Producer, TopicPartition
from waiting import until

B, T, KILL, START = sys.argv[1:5]
CLIENT = {"client.id": sys.argv[5]} if len(sys.argv) > 5 else {}
N = 3000

acked, errors = [], []
p = Producer({"bootstrap.servers": B, "enable.idempotence": True, "linger.ms": 5,
              "message.timeout.ms": 120000, "retry.backoff.ms": 100, **CLIENT})


def report(err, msg):
    if err:
        errors.append(err)
    else:
        acked.append(int(msg.value()))


def produce():
    for i in range(N):
        while True:
            try:
                p.produce(T, value=str(i).encode(), partition=0, on_delivery=report)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
        if i % 100 == 99:
            # Pace the stream by acknowledgements, so it spans the restart: each chunk waits
            # for its commits (a deadline, not a sleep).
            p.flush(120)
    p.flush(120)


t = threading.Thread(target=produce)
t.start()
until(lambda: len(acked) >= 500, "the first 500 acknowledgements", timeout=60)
subprocess.run(KILL, shell=True, check=True)
print("agent killed after", len(acked), "acks")
subprocess.run(START, shell=True, check=True)
print("start command done")
t.join()
assert not errors, errors[:5]
assert sorted(acked) == list(range(N)), (len(acked), N)

c = Consumer({"bootstrap.servers": B, "group.id": "verify", "enable.auto.commit": False, **CLIENT})
c.assign([TopicPartition(T, 0, 0)])
_, high = c.get_watermark_offsets(TopicPartition(T, 0), timeout=10)
values = []


def caught_up():
    for m in c.consume(num_messages=1000, timeout=0.5):
        if not m.error():
            values.append(int(m.value()))
            if m.offset() + 1 >= high:
                return True
    return False


# Read to the high watermark: the log holds exactly what is read, so a duplicate stored
# anywhere shows up below (and in the log's length), with no time window to guess.
until(caught_up, f"reading the log to its end ({high})", timeout=60)
assert high == N, f"the log holds {high} records for {N} sent"
c.close()
dups = len(values) - len(set(values))
assert dups == 0, f"{dups} duplicates"
assert values == list(range(N)), (len(values), values[:10])
print("all", N, "acknowledged records exactly once, in order")
print("PASS")
