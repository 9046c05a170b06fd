#!/usr/bin/env bash
# `npm start`: the lab. Sets up what is missing, then runs dapr.yaml (both apps with their
# sidecars). Ctrl+C stops everything it started.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$REPO"
if [ "${DAPR_RUN[0]}" = dapr ]; then
  say "running: dapr run -f ."
  "${DAPR_RUN[@]}" .
else
  say "Dapr CLI not found: running dapr.yaml with scripts/multi-app-run.ts (same sidecars, same file)"
  "${DAPR_RUN[@]}" dapr.yaml
fi
