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

# install_package PACKAGE WHAT FIX: installs a Debian package quietly when running as root
# with apt-get, else stops with FIX (the exact command for the user's system).
# Postinst scripts start the package's own service (invoke-rc.d), which would leave a
# daemon on our port that we don't own; a policy-rc.d answering 101 ("action forbidden")
# for the length of the install stops that, as Debian documents. It is created only if
# there is none, and removed again whatever happens (the subshell's EXIT trap).
install_package() {
  local package=$1 what=$2 fix=$3
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then die "$fix"; fi
  say "installing $what from Debian's packages (apt-get install $package)..."
  (
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      trap 'grep -qs dapr-pubsub-lab "$policy" && rm -f "$policy"' EXIT
      printf '#!/bin/sh\n# dapr-pubsub-lab: no service starts during its apt-get install; removed afterwards.\nexit 101\n' >"$policy"
      chmod 755 "$policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq "$package" || { apt-get update -qq && apt-get install -y -qq "$package"; }; } >/dev/null 2>&1
  ) || die "apt-get install $package failed. Run it by hand to see why, then run this again."
}

# stop_pidfile WHAT PIDFILE PROCESS: stops the process a pid file names if it is still ours
# (its command line names PROCESS). The pid file goes only if it still names that process:
# a run that started meanwhile may have written its own.
stop_pidfile() {
  local what=$1 file=$2 process=$3 pid
  pid=$(cat "$file" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null && grep -q "$process" "/proc/$pid/cmdline" 2>/dev/null; then
    say "stopping the lab's $what (pid $pid)"
    kill "$pid"
    wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
  fi
  if [ "$(cat "$file" 2>/dev/null)" = "$pid" ]; then rm -f "$file"; fi
  return 0
}

# daemon PIDFILE LOGFILE COMMAND...: starts COMMAND in a session of its own and immune to
# hangups, so a Ctrl+C in the terminal does not kill it half-way (the caller's _down stops
# it). Launched from a subshell, so it is no job of the caller's shell, and it writes its
# own pid (setsid forks in some cases).
daemon() {
  local pidfile=$1 log=$2
  shift 2
  rm -f "$pidfile"
  ( $(command -v setsid) nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >"$log" 2>&1 & )
}
