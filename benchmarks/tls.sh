#!/usr/bin/env bash
# What security costs: the same one-agent local cluster and client (confluent-kafka, 1 KiB
# records, acks=all) over PLAINTEXT, SSL and SASL_SSL (SCRAM-SHA-512), three runs each. Prints
# produce and consume MB/s and p99 latency, and puts the table in docs/benchmarks.md (between the
# tls markers).
#
#   benchmarks/tls.sh                     # release build, 10 s per phase
#   SECONDS_PER_PHASE=4 RUNS=1 benchmarks/tls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
phase=${SECONDS_PER_PHASE:-10}
runs=${RUNS:-3}
python=${AMQ_TEST_VENV:-$root/.venv}/bin/python
work=$(mktemp -d /tmp/amq-tlsbench.XXXXXX)
cleanup() {
    for dir in "$work"/cluster-*; do
        [ -d "$dir" ] && AMQ_DATA_DIR="$dir" "$amq" cluster stop bench --timeout 5 >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=benchmarks/lib.sh
. "$root/benchmarks/lib.sh"
build_release

rows="$work/rows.md"
: > "$rows"
for mode in plaintext ssl sasl_ssl; do
    dir="$work/cluster-$mode"
    mkdir -p "$dir"
    flags=()
    case $mode in ssl) flags=(--tls) ;; sasl_ssl) flags=(--tls --sasl) ;; esac
    echo "==> $mode" >&2
    AMQ_DATA_DIR="$dir" "$amq" cluster create bench --local --zones a --agents-per-zone 1 "${flags[@]}" >/dev/null 2>&1
    status=$(AMQ_DATA_DIR="$dir" "$amq" cluster status --format json)
    bootstrap=$(echo "$status" | "$python" -c 'import json,sys; print(",".join("%s:%s" % (a["host"], a["kafkaPort"]) for a in json.load(sys.stdin)["agents"]))')
    config=$(echo "$status" | "$python" -c '
import json, sys
s = json.load(sys.stdin)["security"]
c = {}
if s["kafkaProtocol"] != "PLAINTEXT":
    c["security.protocol"] = s["kafkaProtocol"]
if s.get("caFile"):
    c["ssl.ca.location"] = s["caFile"]
if s.get("adminUser"):
    c.update({"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": s["adminUser"], "sasl.password": open(s["adminPasswordFile"]).read().strip()})
print(json.dumps(c))')
    for run in $(seq 1 "$runs"); do
        topic="bench-$run"
        AMQ_DATA_DIR="$dir" "$amq" topic create "$topic" --partitions 6 --config linger.ms=5 >/dev/null
        result=$(BENCH_CONFIG="$config" "$python" "$root/benchmarks/kafka_bench.py" "$bootstrap" "$topic" 6 1024 "$phase" 2000)
        echo "$result" >&2
        echo "$mode $result" >> "$work/results"
    done
    AMQ_DATA_DIR="$dir" "$amq" cluster stop bench --timeout 10 >/dev/null 2>&1 || true
done
"$python" - "$work/results" > "$rows" <<'PY'
import json, statistics, sys
by = {}
for line in open(sys.argv[1]):
    mode, text = line.split(" ", 1)
    by.setdefault(mode, []).append(json.loads(text))
base = statistics.median(r["produce_mb_s"] for r in by["plaintext"])
for mode, name in [("plaintext", "PLAINTEXT"), ("ssl", "SSL"), ("sasl_ssl", "SASL_SSL, SCRAM-SHA-512")]:
    rs = by[mode]
    p = [r["produce_mb_s"] for r in rs]; c = [r["consume_mb_s"] for r in rs]; l = [r["p99_ms"] for r in rs]
    print(f"| {name} | {statistics.median(p):.1f} ({min(p):.1f}–{max(p):.1f}) | {statistics.median(p) / base * 100:.0f} % | "
          f"{statistics.median(c):.1f} ({min(c):.1f}–{max(c):.1f}) | {statistics.median(l):.1f} ms |")
PY
cat "$rows"
table=$(printf '%s\n' \
    "One agent, local store, confluent-kafka, 1 KiB records, acks=all, 6 partitions; median of $runs runs of ${phase} s (range). p99: produce latency at 2,000 records/s." \
    "" \
    "| listener | produce MB/s | of plaintext | consume MB/s | p99 |" \
    "|---|---|---|---|---|" \
    "$(cat "$rows")")
"$python" - "$root/docs/benchmarks.md" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- tls:begin -->", "<!-- tls:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in text:
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Security: TLS and SASL (benchmarks/tls.sh)\n\n" + block + "\n"
open(path, "w").write(text)
PY
