# Shared by the benchmark scripts: the release build, a SeaweedFS S3 server on free ports, and
# writing a marked section of docs/benchmarks.md. Source it after setting `root` and `work`.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Builds amq in release mode (its own scratch path, so a debug build folder stays warm) and sets $amq.
build_release() {
    echo "==> building amq (release)" >&2
    swift build -c release --product amq --scratch-path "$root/.build-release" >&2
    amq="$(swift build -c release --scratch-path "$root/.build-release" --show-bin-path)/amq"
}

# Starts SeaweedFS with its S3 API on a free port; sets $s3_port and $weed_pid.
start_seaweedfs() {
    local venv=${AMQ_TEST_VENV:-$root/.venv}
    if [ ! -x "$venv/bin/weed" ]; then
        echo "SeaweedFS is missing; run scripts/test.sh once (it installs it into .venv)" >&2
        exit 1
    fi
    s3_port=$(free_port)
    mkdir -p "$work/weed"
    "$venv/bin/weed" server -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$(free_port)" -master.port.grpc="$(free_port)" -volume.port="$(free_port)" -volume.port.grpc="$(free_port)" \
        -filer.port="$(free_port)" -filer.port.grpc="$(free_port)" -s3 -s3.port="$s3_port" -s3.port.grpc="$(free_port)" \
        -s3.port.iceberg=0 -s3.port.lance=0 -volume.max=0 -master.volumeSizeLimitMB=1024 >"$work/weed.log" 2>&1 &
    weed_pid=$!
    for _ in $(seq 1 300); do
        if curl -s -o /dev/null -X PUT "http://127.0.0.1:$s3_port/amq-bench-probe" \
            && curl -sf -o /dev/null -X PUT --data probe "http://127.0.0.1:$s3_port/amq-bench-probe/p"; then
            return
        fi
        sleep 0.2
    done
    echo "SeaweedFS did not come up; see $work/weed.log" >&2
    exit 1
}

# write_section NAME FILE: puts FILE's markdown between <!-- NAME:begin --> and <!-- NAME:end -->
# in docs/benchmarks.md, replacing what was there.
write_section() {
    local doc="$root/docs/benchmarks.md"
    [ -f "$doc" ] || printf '# Benchmarks\n\nFigures from the scripts in `benchmarks/`, each with the machine and settings it ran on.\n' >"$doc"
    python3 - "$doc" "$1" "$2" <<'PY'
import sys
doc, name, results = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(doc).read()
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
section = begin + "\n" + open(results).read().strip() + "\n" + end
if begin in text:
    text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(doc, "w").write(text)
PY
}

# The object-store requests a cluster's agents have made so far, summed from their /metrics:
# PUTs (WAL and router objects) and GETs (block-cache misses), as JSON {"puts": N, "gets": N}.
object_requests() {
    local dir=$1
    AMQ_DATA_DIR="$dir" "$amq" cluster status --format json | python3 -c '
import json, sys, urllib.request
puts = gets = 0
for agent in json.load(sys.stdin)["agents"]:
    if not agent.get("adminPort"):
        continue
    text = urllib.request.urlopen("http://%s:%s/metrics" % (agent["host"], agent["adminPort"]), timeout=5).read().decode()
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("amq_storage_objects_uploaded_total", "amq_storage_router_objects_uploaded_total"):
            puts += float(value)
        elif name == "amq_storage_object_reads_total":
            gets += float(value)
print(json.dumps({"puts": puts, "gets": gets}))'
}

# rss_watch DIR FILE: every second until killed, writes to FILE the largest resident set (MiB)
# any agent of the cluster in DIR has had so far.
rss_watch() {
    local dir=$1 out=$2 max=0 pids rss
    pids=$(AMQ_DATA_DIR="$dir" "$amq" cluster status --format json | python3 -c 'import json,sys; print(" ".join(str(a["pid"]) for a in json.load(sys.stdin)["agents"] if a.get("pid")))')
    echo 0 >"$out"
    while true; do
        for pid in $pids; do
            rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null || echo 0)
            [ "${rss:-0}" -gt "$max" ] && max=$rss && echo "$max" >"$out"
        done
        sleep 1
    done
}
