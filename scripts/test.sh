#!/usr/bin/env bash
# `npm test`: sets up what is missing, starts every broker the end-to-end tests use,
# type-checks, then runs the unit and end-to-end tests. Extra arguments go to vitest
# (`npm test -- --project unit`).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$REPO"

# A broker that cannot start here is skipped on a laptop (with the reason) and fails the
# run on CI (CI=true), where every broker is required.
unavailable=()
for b in "${BROKERS[@]}"; do
  if broker_ping "$b"; then continue; fi
  if out=$( (broker_up "$b") 2>&1); then
    STARTED_BROKERS+=("$b")
    echo "$out" >&2
  else
    reason=$(printf '%s' "$out" | grep -v '^\[lab\]   ' | tail -n 1 | sed 's/^\[lab\] //')
    say "$b cannot start here: $reason"
    unavailable+=("$b: $reason")
  fi
done
export LAB_UNAVAILABLE_BROKERS
LAB_UNAVAILABLE_BROKERS=$(printf '%s\n' "${unavailable[@]}")

say "type-checking (tsc --noEmit)..."
npx tsc --noEmit
status=0
npx vitest run "$@" || status=$?
if [ ${#unavailable[@]} -gt 0 ]; then
  echo "Brokers not tested on this machine:"
  printf -- '- %s\n' "${unavailable[@]}"
fi
exit $status
