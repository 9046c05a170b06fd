#!/usr/bin/env bash
# Finds or builds kustomize v5 for deploy/ and prints its path as the last line of stdout.
# With arguments it runs kustomize with them instead:
#
#   bash scripts/kustomize.sh build deploy/overlays/redis
#
#   1. $KUSTOMIZE, or a kustomize v5 on the PATH, is used as it is.
#   2. Otherwise kustomize is built once from its Go module (sigs.k8s.io/kustomize/kustomize/v5)
#      into the project's cache ($DAPR_LAB_CACHE, default ~/.cache/dapr-pubsub-lab).
#
# Progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# v5.8.3, the newest v5, needs Go 1.27; v5.8.2 builds with Go 1.26.
KUSTOMIZE_VERSION=v5.8.2

is_v5() { "$1" version 2>/dev/null | grep -q '^v5\.'; }

bin=${KUSTOMIZE:-}
if [ -n "$bin" ]; then
  is_v5 "$bin" || die "KUSTOMIZE=$bin is not a kustomize v5 binary ($("$bin" version 2>&1 | head -1))."
elif command -v kustomize >/dev/null 2>&1 && is_v5 "$(command -v kustomize)"; then
  bin=$(command -v kustomize)
else
  bin="$CACHE/kustomize-$KUSTOMIZE_VERSION/kustomize"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null 2>&1 || die "kustomize is not installed, and Go is not installed to build it. Fix: install kustomize v5 (https://kubectl.docs.kubernetes.io/installation/kustomize/) or Go 1.26+, then run this again."
    started=$SECONDS
    say "building kustomize $KUSTOMIZE_VERSION from its Go module (one time only; about 25 s with empty Go caches)..."
    mkdir -p "$CACHE" && tmp=$(mktemp -d "$CACHE/kustomize-build.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    # Built in a directory of its own, outside any module, then moved into place: an
    # interrupted build leaves no half-written binary behind.
    (cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION") >&2 \
      || die "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION failed (see above)."
    mkdir -p "$(dirname "$bin")"
    mv "$tmp/kustomize" "$bin"
    rm -rf "$tmp" && trap - EXIT
    say "kustomize $KUSTOMIZE_VERSION built in $((SECONDS - started)) s: $bin"
  fi
fi

if [ $# -gt 0 ]; then exec "$bin" "$@"; fi
echo "$bin"
