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
work=$(mktemp -d /tmp/amq-bench.XXXXXX)
weed_pid=""
cleanup() {
    [ -n "$weed_pid" ] && kill "$weed_pid" 2>/dev/null && wait "$weed_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=benchmarks/lib.sh
. "$root/benchmarks/lib.sh"
build_release

results="$work/results.md"
echo "==> local directory store" >&2
"$amq" bench storage --object-store "file://$work/objects" --megabytes "$megabytes" --output "$results"

echo "==> SeaweedFS S3" >&2
start_seaweedfs
AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    "$amq" bench storage --object-store "s3://amq-bench?endpoint=http://127.0.0.1:$s3_port" --megabytes "$megabytes" --output "$results"

{ echo 'Run with `benchmarks/storage.sh`.'; echo; sed '/^# Benchmarks$/d' "$results"; } > "$work/section.md"
write_section storage "$work/section.md"
echo "==> figures written to docs/benchmarks.md" >&2
