#!/usr/bin/env bash
# `npm run stop`: stops whatever an earlier lab run left behind (apps, sidecars, the
# runner) and the redis-server the project started.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$REPO/scripts/redis.sh"
command -v dapr >/dev/null 2>&1 && (cd "$REPO" && dapr stop -f . >/dev/null 2>&1)
# Processes of a run have the repository in their command line or working directory.
for pid in $(pgrep -f "multi-app-run.ts|daprd"); do
  if grep -qF "$REPO" "/proc/$pid/cmdline" 2>/dev/null || [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$REPO"* ]]; then
    say "stopping $(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-100) (pid $pid)"
    kill "$pid" 2>/dev/null
  fi
done
for pid in $(pgrep -f "src/(server|main).ts"); do
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$REPO"* ]] && kill "$pid" 2>/dev/null
done
redis_down
say "stopped"
