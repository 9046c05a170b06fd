#!/usr/bin/env bash
# `npm test`: sets up what is missing, type-checks, then runs the unit and end-to-end tests
# (extra arguments go to vitest, e.g. `npm test -- --project unit`).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$REPO"
say "type-checking (tsc --noEmit)..."
npx tsc --noEmit
npx vitest run "$@"
