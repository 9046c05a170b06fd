#!/usr/bin/env bash
# `npm run stop`: stops whatever an earlier lab run left behind (apps, sidecars, the
# runner) and every broker the project started, and its Zipkin (never one it found running).
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$REPO/scripts/brokers.sh"
source "$REPO/scripts/zipkin.sh"
command -v dapr >/dev/null 2>&1 && (cd "$REPO" && dapr stop -f . >/dev/null 2>&1)
# Processes of a run have the repository in their command line or working directory.
for pid in $(pgrep -f "multi-app-run.ts|daprd|src/(server|main).ts"); do
  if grep -qF "$REPO" "/proc/$pid/cmdline" 2>/dev/null || [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$REPO"* ]]; then
    say "stopping $(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-100) (pid $pid)"
    kill "$pid" 2>/dev/null
  fi
done
for b in "${BROKERS[@]}"; do broker_down "$b"; done
zipkin_down
say "stopped"
