# Everything the lab needs before it runs: npm dependencies, the Dapr runtime, the broker.
# Sourced by start.sh and test.sh; idempotent and quick once done.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$REPO/scripts/redis.sh"

ensure_node_modules
eval "$(bash "$REPO/scripts/provision-dapr.sh")"
export DAPR_RUNTIME_PATH
redis_up
trap '[ "${REDIS_STARTED:-0}" = 1 ] && redis_down' EXIT

# `dapr run -f` when the Dapr CLI is installed; otherwise the project's runner, which
# reads the same dapr.yaml and starts the same daprd sidecars.
if command -v dapr >/dev/null 2>&1; then
  DAPR_RUN=(dapr run -f)
else
  DAPR_RUN=(node --import tsx "$REPO/scripts/multi-app-run.ts")
fi
export DAPR_RUN_COMMAND="${DAPR_RUN[*]}"
