#!/usr/bin/env bash
# Adaptive sealing (issue 14): produce latency at 100 and 1,000 records/s and the objects written
# (latency phase + full-speed phase of benchmarks/kafka_bench.py) on a one-agent local cluster,
# for each amq binary named in AMQ_BINARIES (label=path ...; default: this checkout's release
# build) and the PUT budget in BUDGET (wal.max.puts.per.second; default: the cluster default).
#
#   AMQ_BINARIES="before=/tmp/amq-before after=.build-release/release/amq" BUDGET=30 benchmarks/sealing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
py=${AMQ_TEST_VENV:-$root/.venv}/bin/python
if [ -z "${AMQ_BINARIES:-}" ]; then
    # shellcheck source=benchmarks/lib.sh
    . "$root/benchmarks/lib.sh"
    build_release
    AMQ_BINARIES="this=$amq"
fi
for pair in $AMQ_BINARIES; do
  label=${pair%%=*}; amq=${pair#*=}
  for rate in 100 1000; do
    dir=$(mktemp -d /tmp/ll.XXXX)
    AMQ_DATA_DIR=$dir $amq cluster create ll --local --zones a --agents-per-zone 1 ${BUDGET:+--setting wal.max.puts.per.second=$BUDGET} >/dev/null 2>&1
    AMQ_DATA_DIR=$dir $amq topic create t --partitions 3 >/dev/null
    b=$(AMQ_DATA_DIR=$dir $amq cluster status --format json | $py -c 'import json,sys; a=json.load(sys.stdin)["agents"][0]; print("%s:%s"%(a["host"],a["kafkaPort"]))')
    before=$(find $dir/clusters/ll/objects -type f | wc -l)
    r=$($py $root/benchmarks/kafka_bench.py $b t 3 1024 ${PHASE:-8} $rate)
    after=$(find $dir/clusters/ll/objects -type f | wc -l)
    echo "$label budget=${BUDGET:-default} rate=$rate objects=$((after-before)) $(echo "$r" | $py -c 'import json,sys; r=json.load(sys.stdin); print("p50=%.1f p99=%.1f p999=%.1f produceMB/s=%.1f consumeMB/s=%.1f records=%d" % (r["p50_ms"], r["p99_ms"], r["p999_ms"], r["produce_mb_s"], r["consume_mb_s"], r["total_records"]))')"
    AMQ_DATA_DIR=$dir $amq cluster stop ll >/dev/null 2>&1 || true
    rm -rf $dir
  done
done
