#!/usr/bin/env bash
# Builds amq and runs `amq quickstart`: a local three-zone cluster on the embedded defaults
# (SQLite, a local object store directory, agents as background processes) under
# ./.amq-quickstart, 100 records produced and consumed back through the Kafka protocol, and a
# summary of what happened. Extra arguments go to `amq quickstart` (e.g. --keep-running).
set -euo pipefail
cd "$(dirname "$0")/.."
# The same build settings as the test command (scripts/test.sh), so the two share one build folder.
export AMQ_STRICT_BUILD=1
swift build --product amq
amq="$(swift build --show-bin-path)/amq"
export AMQ_DATA_DIR="${AMQ_DATA_DIR:-$PWD/.amq-quickstart}"
exec "$amq" quickstart --data-dir "$AMQ_DATA_DIR" "$@"
