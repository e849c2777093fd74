#!/usr/bin/env bash
# Regenerates completions/ from the CLI; a test fails when the committed files are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product amq
amq="$(swift build --show-bin-path)/amq"
mkdir -p completions
"$amq" --generate-completion-script bash > completions/amq.bash
"$amq" --generate-completion-script zsh > completions/_amq
"$amq" --generate-completion-script fish > completions/amq.fish
echo "completions/ regenerated"
