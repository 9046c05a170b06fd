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
# The tracing test runs `npm start -- --tracing`, which starts a Zipkin of its own. Its jar
# is fetched now (once), so that a machine that cannot run it skips that test the same way.
source "$REPO/scripts/zipkin.sh"
if zipkin_ping; then :
elif out=$( (zipkin_install) 2>&1); then
  if [ -n "$out" ]; then echo "$out" >&2; fi
else
  reason=$(printf '%s' "$out" | tr '\n' ' ' | sed 's/.*\[lab\] //') # the last message, whole
  say "zipkin cannot start here: $reason"
  unavailable+=("zipkin: $reason")
fi
# The live-view test drives Debian's Chromium with playwright-core, which brings no browser.
if ! command -v chromium >/dev/null 2>&1; then
  say "the live-view test needs Chromium: installing it (once, about a minute)..."
  if ! out=$( (install_package chromium Chromium \
      "Chromium is not installed. Fix: 'sudo apt-get install chromium' (Debian/Ubuntu), then run this again.") 2>&1); then
    reason=$(printf '%s' "$out" | tail -n 1 | sed 's/^\[lab\] //')
    say "chromium cannot be installed here: $reason"
    unavailable+=("chromium: $reason")
  fi
fi
export LAB_UNAVAILABLE_BROKERS
LAB_UNAVAILABLE_BROKERS=$(printf '%s\n' "${unavailable[@]}")

say "type-checking (tsc --noEmit)..."
npx tsc --noEmit
status=0
npx vitest run "$@" || status=$?
if [ ${#unavailable[@]} -gt 0 ]; then
  echo "Not tested on this machine (brokers, Zipkin, Chromium):"
  printf -- '- %s\n' "${unavailable[@]}"
fi
exit $status
