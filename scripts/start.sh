#!/usr/bin/env bash
# `npm start [-- --broker NAME] [-- --app ID] [-- --tracing]`: the lab. Sets up what is
# missing, starts the broker the run uses (and Zipkin with --tracing), then runs dapr.yaml
# (both apps with their sidecars). Ctrl+C stops everything it started.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
source "$REPO/scripts/zipkin.sh"
# setup.sh's EXIT trap stops the brokers this command started; Zipkin too, if it did.
trap 'zipkin_down_started; brokers_down_started' EXIT
cd "$REPO"
# The doctor's checks first (scripts/doctor.ts): a held port, a broker that cannot be reached,
# a broken component file... stop here with what to do. When nothing blocks, it prints
# lab-run.ts's plan for this run (which it works out to check it).
plan=$(node --import tsx scripts/doctor.ts --before-start "$@") || exit 1
eval "$plan"
say "broker: $BROKER ($BROKER_FILE)"
broker_up "$BROKER" "$TOPIC"
# The order-processor's ledger (components/statestore.yaml) lives in Redis, whatever the broker.
if [ "$BROKER" != redis ]; then say "state store: redis"; broker_up redis; fi
# The sidecars always send spans (config/tracing.yaml); --tracing gives them a Zipkin.
if [ "$TRACING" = 1 ]; then zipkin_up; fi
if [ "${DAPR_RUN[0]}" = dapr ]; then
  say "running: dapr run -f ${RUN_FILE#"$REPO"/}"
else
  say "Dapr CLI not found: running ${RUN_FILE#"$REPO"/} with scripts/multi-app-run.ts (same sidecars, same file)"
fi
"${DAPR_RUN[@]}" "$RUN_FILE"
