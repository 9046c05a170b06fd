#!/usr/bin/env bash
# `npm run load` / `npm run bench`: the same set-up as `npm start` (npm dependencies, the
# Dapr runtime, Redis started if none answers and stopped again afterwards), then the tool.
# Usage: bash bench/run.sh load|bench [options...]
set -euo pipefail
tool=$1; shift
source "$(dirname "$0")/../scripts/setup.sh"
broker_up redis
cd "$REPO"
# Not exec: setup.sh's EXIT trap stops the Redis this command started, once the tool is done.
node --import tsx "bench/$tool.ts" "$@"
