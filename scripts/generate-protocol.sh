#!/usr/bin/env bash
# Regenerates Sources/AMQKafkaProtocol/Generated/ (and the round-trip fixtures under
# Tests/AMQKafkaProtocolTests/Generated/) from the Kafka JSON schemas in kafka-python's wheel.
# The venv is $AMQ_TEST_VENV or ./.venv; it must have kafka-python==3.0.12 installed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${AMQ_TEST_VENV:-./.venv}"
schemas=$(ls -d "$venv"/lib/python3.*/site-packages/kafka/protocol/schemas/resources 2>/dev/null | head -n 1 || true)
if [[ -z "$schemas" ]]; then
    echo "generate-protocol: no kafka-python schemas in $venv (set AMQ_TEST_VENV)" >&2
    exit 1
fi
swift build --product amq-codegen
"$(swift build --product amq-codegen --show-bin-path)/amq-codegen" \
    --schemas "$schemas" \
    --output Sources/AMQKafkaProtocol/Generated \
    --test-output Tests/AMQKafkaProtocolTests/Generated
