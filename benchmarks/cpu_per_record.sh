#!/usr/bin/env bash
# The agent's CPU per record on its produce and fetch paths (issue 14, item 5), with a profile
# of each. A one-agent local cluster; RECORDS records of 1 KiB produced by confluent-kafka as
# fast as it goes (acks=all, linger 5 ms, 6 partitions), then consumed from the start. For each
# phase: the agent's user+system CPU time from /proc (all its threads) divided by the records,
# and where `perf record` (the cpu-clock software event) found it, by layer
# (profile_summary.py) and by function. Three runs; median and spread.
#
# Why CPU time and not instruction counts: this machine's VM exposes no hardware counters (`perf
# stat -e instructions` is "not supported") and valgrind 3.19 (Debian's) crashes on any Swift
# 6.3 binary, even `amq --help` under `--tool=none`. CPU time per record over a fixed workload is
# the next most stable figure; run it on an idle machine.
#
#   benchmarks/cpu_per_record.sh                     # the release build
#   AMQ=/path/to/amq LABEL=before RECORDS=300000 benchmarks/cpu_per_record.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
records=${RECORDS:-300000}
runs=${RUNS:-3}
python=${AMQ_TEST_VENV:-$root/.venv}/bin/python
work=$(mktemp -d /tmp/amq-cpu.XXXXXX)
cleanup() {
    AMQ_DATA_DIR="$work/data" "$amq" cluster stop cpu --timeout 5 >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=benchmarks/lib.sh
. "$root/benchmarks/lib.sh"
if [ -n "${AMQ:-}" ]; then amq=$AMQ; else build_release; fi
label=${LABEL:-$(git -C "$root" rev-parse --short HEAD)}
unset AMQ_DB AMQ_CLUSTER AMQ_BOOTSTRAP

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

produce='
import sys
from confluent_kafka import Producer
bootstrap, count = sys.argv[1], int(sys.argv[2])
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "batch.size": 1000000, "message.timeout.ms": 300000})
errors = []
payload = bytes(1024)
for i in range(count):
    while True:
        try:
            producer.produce("cpu", payload, on_delivery=lambda err, _: err and errors.append(err))
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)
producer.flush(300)
assert not errors, errors[:3]
'
consume='
import sys
from confluent_kafka import Consumer
bootstrap, count = sys.argv[1], int(sys.argv[2])
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "cpu", "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe(["cpu"])
seen = 0
while seen < count:
    for message in consumer.consume(10000, 5):
        if message.error() is None:
            seen += 1
consumer.close()
'
hz=$(getconf CLK_TCK)
: >"$work/samples"
for run in $(seq 1 "$runs"); do
    export AMQ_DATA_DIR="$work/data"
    rm -rf "$work/data"
    "$amq" cluster create cpu --local --zones a --agents-per-zone 1 >/dev/null
    status=$("$amq" cluster status cpu --format json)
    pid=$(echo "$status" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["agents"][0]["pid"])')
    bootstrap=$(echo "$status" | "$python" -c 'import json,sys; a=json.load(sys.stdin)["agents"][0]; print("%s:%s" % (a["host"], a["kafkaPort"]))')
    "$amq" topic create cpu --partitions 6 --config linger.ms=5 >/dev/null
    for phase in produce fetch; do
        code=$produce; [ "$phase" = fetch ] && code=$consume
        [ "$run" = 1 ] && { perf record -F 999 -g -p "$pid" -o "$work/$phase.perf" >/dev/null 2>&1 & perf_pid=$!; sleep 0.5; }
        before=$(cpu_ticks "$pid")
        "$python" -c "$code" "$bootstrap" "$records"
        after=$(cpu_ticks "$pid")
        [ "$run" = 1 ] && { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; }
        echo "$phase $(( (after - before) ))" >>"$work/samples"
    done
    "$amq" cluster stop cpu --timeout 10 >/dev/null 2>&1 || true
done
for phase in produce fetch; do
    perf report -i "$work/$phase.perf" --no-children --sort dso,sym --stdio -g none 2>/dev/null >"$work/$phase.txt" || true
done
"$python" - "$work" "$records" "$hz" "$label" <<'PY'
import json, re, statistics, subprocess, sys
work, records, hz, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
samples = {}
for line in open(f"{work}/samples"):
    phase, ticks = line.split()
    samples.setdefault(phase, []).append(int(ticks) / hz / records * 1e6)
print("| build | path | records | agent CPU µs/record (median of %d) | spread |" % len(samples["produce"]))
print("|---|---|---|---|---|")
for phase in ("produce", "fetch"):
    values = samples[phase]
    print(f"| {label} | {phase} | {records:,} | {statistics.median(values):.2f} | {min(values):.2f}–{max(values):.2f} |")
print()
line_re = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[.\]\s+(.*)$")
for phase in ("produce", "fetch"):
    layers = json.loads(subprocess.run([sys.executable, "benchmarks/profile_summary.py", f"{work}/{phase}.txt"], capture_output=True, text=True).stdout)["samples_pct"]
    top = []
    for line in open(f"{work}/{phase}.txt", errors="replace"):
        m = line_re.match(line)
        if m and len(top) < 6:
            symbol = subprocess.run(["swift", "demangle", "--simplified", "--compact", m.group(3).split()[0]], capture_output=True, text=True).stdout.strip()
            top.append(f"{m.group(1)} % {symbol[:80]}")
    print(f"- {label} {phase}, by layer: " + ", ".join(f"{k} {v} %" for k, v in layers.items() if v) + ". Top functions: " + "; ".join(top))
PY
