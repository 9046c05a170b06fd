# What every command needs before it runs: npm dependencies, the Dapr runtime, and the
# broker functions. Sourced by start.sh and test.sh; idempotent and quick once done.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$REPO/scripts/brokers.sh"

ensure_node_modules
eval "$(bash "$REPO/scripts/provision-dapr.sh")"
export DAPR_RUNTIME_PATH
# Brokers this command started are stopped again when it ends, however it ends.
trap brokers_down_started EXIT

# `dapr run -f` when the Dapr CLI is installed; otherwise the project's runner, which
# reads the same run file and starts the same daprd sidecars.
if command -v dapr >/dev/null 2>&1; then
  DAPR_RUN=(dapr run -f)
else
  DAPR_RUN=(node --import tsx "$REPO/scripts/multi-app-run.ts")
fi
