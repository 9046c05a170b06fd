#!/usr/bin/env bash
# Finds or builds the Dapr runtime (daprd) and prints, for the caller to eval, the
# DAPR_RUNTIME_PATH that points the Dapr CLI (or scripts/multi-app-run.ts) at it.
#
#   1. An existing install is used as it is: daprd under $DAPR_RUNTIME_PATH/.dapr/bin or
#      ~/.dapr/bin (what `dapr init` or `dapr init --slim` leaves).
#   2. Otherwise daprd is built once from Dapr's Go module into the project's cache
#      ($DAPR_LAB_CACHE, default ~/.cache/dapr-pubsub-lab), laid out like `dapr init --slim`.
#
# Progress goes to stderr so stdout stays eval-able.
set -euo pipefail

DAPR_VERSION=1.18.3
say() { printf '[dapr] %s\n' "$*" >&2; }

for root in "${DAPR_RUNTIME_PATH:-}" "$HOME"; do
  if [ -n "$root" ] && [ -x "$root/.dapr/bin/daprd" ] && [ -z "${DAPR_LAB_FORCE_BUILD:-}" ]; then
    say "using daprd $("$root/.dapr/bin/daprd" --version 2>/dev/null || echo '?') from $root/.dapr/bin"
    echo "export DAPR_RUNTIME_PATH='$root'"
    exit 0
  fi
done

CACHE=${DAPR_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-pubsub-lab}
RUNTIME="$CACHE/dapr-$DAPR_VERSION"
DAPRD="$RUNTIME/.dapr/bin/daprd"

# The lab component set. Dapr's official tag sets (allcomponents, stablecomponents) cannot
# be built from the Go module proxy alone: pubsub.pulsar needs github.com/iskorotkov/avro
# and the twmb pulsar fork, which the proxy does not serve. So daprd is built with Dapr's
# own cmd/daprd sources and only these component registrations (files of
# cmd/daprd/components in the dapr module); add a name here to get one more.
LAB_COMPONENTS=(
  pubsub_redis pubsub_kafka pubsub_rabbitmq pubsub_mqtt3 pubsub_jetstream pubsub_in-memory
  state_redis state_in-memory lock_redis configuration_redis
  secretstores_local_env secretstores_local_file
  bindings_cron bindings_http bindings_localstorage
  nameresolution_mdns
)

if [ ! -x "$DAPRD" ]; then
  command -v go >/dev/null 2>&1 || {
    say "No Dapr runtime found, and Go is not installed to build one."
    say "Fix: install Dapr (https://docs.dapr.io/getting-started/install-dapr-cli/ then 'dapr init --slim'), or install Go 1.26+ and run this again."
    exit 1
  }
  started=$SECONDS
  say "building daprd v$DAPR_VERSION from Dapr's Go module (one time only; about 3 minutes on 2 cores with a fast network)."
  say "components: ${LAB_COMPONENTS[*]}"
  wrap="$CACHE/daprd-build-$DAPR_VERSION"
  rm -rf "$wrap" && mkdir -p "$wrap" "$RUNTIME/.dapr/bin"
  cd "$wrap"
  # dapr's go.mod has replace directives, so `go install .../cmd/daprd@v...` is refused;
  # this wrapper module repeats them. durabletask-go is pinned to the build dapr v1.18.2
  # used, because the proxy does not serve the v0.12.4 that v1.18.3 asks for.
  cat > go.mod <<MOD
module daprd-lab

go 1.26.6

require github.com/dapr/dapr v$DAPR_VERSION

replace (
	dubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3-0.20230118042253-4f159a2b38f3
	github.com/apache/pulsar-client-go v0.18.0 => github.com/twmb/pulsar-client-go v0.20.1-0.20260624144353-90eefc81f70a
	gopkg.in/couchbaselabs/gocbconnstr.v1 => github.com/couchbaselabs/gocbconnstr v1.0.5
	github.com/chenzhuoyu/iasm => github.com/chenzhuoyu/iasm v0.9.0
	github.com/chzyer/logex => github.com/chzyer/logex v1.2.1
	github.com/gobwas/pool => github.com/gobwas/pool v0.2.1
	github.com/toolkits/concurrent => github.com/niean/gotools v0.0.0-20151221085310-ff3f51fc5c60
	github.com/dapr/durabletask-go => github.com/dapr/durabletask-go v0.12.2-0.20260720132056-79042da5fe61
)
MOD
  say "downloading github.com/dapr/dapr@v$DAPR_VERSION..."
  GOFLAGS=-mod=mod go mod download "github.com/dapr/dapr@v$DAPR_VERSION"
  src="$(go env GOMODCACHE)/github.com/dapr/dapr@v$DAPR_VERSION/cmd/daprd"
  cp -r "$src/main.go" "$src/app" "$src/options" . && mkdir components
  for c in "${LAB_COMPONENTS[@]}"; do cp "$src/components/$c.go" components/; done
  chmod -R u+w .
  # Point the copied packages at each other instead of at the full component set.
  sed -i 's#"github.com/dapr/dapr/cmd/daprd/#"daprd-lab/#' main.go app/*.go options/*.go
  say "resolving dependencies (downloads a few hundred MB into $(go env GOMODCACHE) the first time)..."
  go get -tags allcomponents ./... 2>&1 | awk '/^go: downloading/ { n++; if (n % 25 == 0) printf "[dapr]   %d modules downloaded\n", n > "/dev/stderr"; next } { print > "/dev/stderr" }'
  [ "${PIPESTATUS[0]}" -eq 0 ]
  say "compiling daprd (progress: packages compiled)..."
  CGO_ENABLED=0 go build -tags allcomponents -trimpath -v \
    -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION" \
    -o "$DAPRD.tmp" . 2>&1 \
    | awk '/^[a-z0-9.-]+(\/[^ ]+)*$/ { n++; if (n % 100 == 0) printf "[dapr]   %d packages compiled\n", n > "/dev/stderr"; next } { print > "/dev/stderr" }'
  [ "${PIPESTATUS[0]}" -eq 0 ]
  mv "$DAPRD.tmp" "$DAPRD"
  say "daprd built in $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s: $DAPRD"
fi

# What `dapr init --slim` writes next to the binary.
mkdir -p "$RUNTIME/.dapr/components"
[ -f "$RUNTIME/.dapr/config.yaml" ] || cat > "$RUNTIME/.dapr/config.yaml" <<'CFG'
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprConfig
spec: {}
CFG

echo "export DAPR_RUNTIME_PATH='$RUNTIME'"
