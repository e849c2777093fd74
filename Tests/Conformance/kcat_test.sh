#!/usr/bin/env bash
# kcat 1.7.1 (librdkafka 2.0.2) against an amq cluster (cases K1–K13).
# Usage: kcat_test.sh BOOTSTRAP TOPIC  — TOPIC must exist with 3 partitions and be empty.
# Prints PASS and exits 0, or prints what differed and exits 1.
set -uo pipefail
B=$1
T=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # check NAME EXPECTED ACTUAL
    [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
    echo "ok: $1"
}

# K1: metadata lists the brokers and the topic (agents learn a new topic within moments).
deadline=$((SECONDS + 30))
until kcat -L -b "$B" > "$work/k1" 2>&1 && grep -q "topic \"$T\" with 3 partitions:" "$work/k1"; do
    [ $SECONDS -lt $deadline ] || fail "K1: $(cat "$work/k1")"
    sleep 0.1
done
grep -q "brokers:" "$work/k1" || fail "K1 brokers: $(cat "$work/k1")"
echo "ok: K1 metadata"

# K3: an unknown topic is reported as such.
kcat -L -b "$B" -t "nosuch-$T" -X allow.auto.create.topics=false > "$work/k3" 2>&1
grep -q "Unknown topic or partition" "$work/k3" || fail "K3: $(cat "$work/k3")"
echo "ok: K3 unknown topic"

# K4: keyed produce with acks=all, delivery reports.
printf 'k1:v1\nk2:v2\nk3:v3\n' | kcat -P -b "$B" -t "$T" -p 0 -K: -vv > "$work/k4" 2>&1 || fail "K4: $(cat "$work/k4")"
check "K4 delivered" 3 "$(grep -c 'Message delivered to partition 0' "$work/k4")"

# K5: acks=0 and acks=1.
printf 'a0\n' | kcat -P -b "$B" -t "$T" -p 0 -X acks=0 || fail "K5 acks=0"
printf 'a1\n' | kcat -P -b "$B" -t "$T" -p 0 -X acks=1 || fail "K5 acks=1"

# K8: read back partition 0 from the beginning; acks=0 is fire-and-forget, so wait for it.
deadline=$((SECONDS + 30))
while :; do
    kcat -C -b "$B" -t "$T" -p 0 -o beginning -e -q -f '%p:%o:%k=%s\n' > "$work/k8" 2>"$work/k8.err"
    [ "$(wc -l < "$work/k8")" -ge 5 ] && break
    [ $SECONDS -lt $deadline ] || fail "K8: $(cat "$work/k8" "$work/k8.err")"
    sleep 0.2
done
check "K8 contents" "0:0:k1=v1 0:1:k2=v2 0:2:k3=v3 0:3:=a0 0:4:=a1" "$(tr '\n' ' ' < "$work/k8" | sed 's/ $//')"

# K9: from offset 1, the last two, and nothing from the end.
check "K9 -o 1" "1 2 3 4" "$(kcat -C -b "$B" -t "$T" -p 0 -o 1 -e -q -f '%o\n' | tr '\n' ' ' | sed 's/ $//')"
check "K9 -o -2" "3 4" "$(kcat -C -b "$B" -t "$T" -p 0 -o -2 -e -q -f '%o\n' | tr '\n' ' ' | sed 's/ $//')"
check "K9 -o end" "" "$(kcat -C -b "$B" -t "$T" -p 0 -o end -e -q -f '%o\n')"

# K6: every codec on compressible payloads of ~20 KB; read back identical bytes.
python3 -c "import sys; sys.stdout.write(' '.join('amq compresses %d' % i for i in range(1500)))" > "$work/big.txt"
n=0
for codec in "-z gzip" "-z snappy" "-z lz4" "-X compression.codec=zstd"; do
    # shellcheck disable=SC2086
    kcat -P -b "$B" -t "$T" -p 1 $codec -d msg "$work/big.txt" > "$work/k6" 2>&1 || fail "K6 $codec: $(cat "$work/k6")"
    name=${codec##* }; name=${name#compression.codec=}
    grep -q "MsgVersion 2.*$name" "$work/k6" || fail "K6 $codec was not compressed: $(grep -m3 'MessageSet' "$work/k6")"
    n=$((n + 1))
done
kcat -C -b "$B" -t "$T" -p 1 -o beginning -e -q -c 4 -f '%s\n' > "$work/k6.out" || fail "K6 read"
for i in 1 2 3 4; do
    sed -n "${i}p" "$work/k6.out" | tr -d '\n' | cmp -s - "$work/big.txt" || fail "K6 message $i differs"
done
echo "ok: K6 gzip, snappy, lz4, zstd"

# K7: an idempotent producer; exactly 1..1000 in order.
seq 1 1000 | kcat -P -b "$B" -t "$T" -p 2 -X enable.idempotence=true -z snappy || fail "K7 produce"
check "K7 idempotent" "$(seq 1 1000 | md5sum)" "$(kcat -C -b "$B" -t "$T" -p 2 -o beginning -e -q -f '%s\n' | md5sum)"

# K10/K11: offsets by time, earliest and latest.
ts=$(kcat -C -b "$B" -t "$T" -p 2 -o 500 -c 1 -e -q -f '%T')
first=$(kcat -C -b "$B" -t "$T" -p 2 -o "s@$ts" -c 1 -e -q -f '%o')
[ "$first" -le 500 ] && [ "$first" -ge 0 ] || fail "K10 s@$ts gave offset $first"
echo "ok: K10 by timestamp -> $first"
kcat -Q -b "$B" -t "$T:0:-2" -t "$T:2:-1" > "$work/k11" 2>&1 || fail "K11: $(cat "$work/k11")"
grep -q "$T \[0\] offset 0" "$work/k11" || fail "K11 earliest: $(cat "$work/k11")"
grep -q "$T \[2\] offset 1000" "$work/k11" || fail "K11 latest: $(cat "$work/k11")"
echo "ok: K11"

# K12/K13: a balanced consumer group reads everything, commits, and a rerun reads nothing new.
total=$((5 + 4 + 1000))
kcat -b "$B" -G "g-$T" -X auto.offset.reset=earliest -e -q -f '%p:%o\n' "$T" > "$work/k12" 2>"$work/k12.err" || fail "K12: $(cat "$work/k12.err")"
check "K12 group read" "$total" "$(wc -l < "$work/k12")"
kcat -b "$B" -G "g-$T" -X auto.offset.reset=earliest -e -q -f '%p:%o\n' "$T" > "$work/k13" 2>"$work/k13.err" || fail "K13: $(cat "$work/k13.err")"
check "K13 resumed from commits" 0 "$(wc -l < "$work/k13")"
echo PASS
