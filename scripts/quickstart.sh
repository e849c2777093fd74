#!/usr/bin/env bash
# Builds amq and runs a local three-zone cluster on the embedded defaults (SQLite, a local object
# store directory, agents as background processes) under ./.amq-quickstart, then shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product amq
amq="$(swift build --show-bin-path)/amq"
export AMQ_DATA_DIR="${AMQ_DATA_DIR:-$PWD/.amq-quickstart}"
if "$amq" cluster describe quickstart >/dev/null 2>&1; then
    "$amq" cluster delete quickstart
fi
"$amq" cluster create quickstart --local --zones a,b,c --agents-per-zone 2
"$amq" topic create orders --partitions 12
"$amq" topic route-enable orders
"$amq" partition list --topic orders
"$amq" cluster status
cat <<EOT

The cluster keeps running in the background. Try:
  export AMQ_DATA_DIR=$AMQ_DATA_DIR
  $amq topic describe orders
  $amq cluster stop quickstart      # and 'cluster start quickstart' to bring it back
  $amq cluster delete quickstart
EOT
