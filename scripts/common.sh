# Shared by the scripts: where things live, how they talk. Source it; don't run it.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${DAPR_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-pubsub-lab}
say() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] %s\n' "$*" >&2; exit 1; }

# Waits until "$@" succeeds, for at most $1 seconds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# npm dependencies: installed from the lock file when missing or older than it.
ensure_node_modules() {
  if [ ! -f "$REPO/node_modules/.package-lock.json" ] || [ "$REPO/package-lock.json" -nt "$REPO/node_modules/.package-lock.json" ]; then
    say "installing npm dependencies (npm ci)..."
    (cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
}
