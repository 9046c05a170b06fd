# RabbitMQ for the lab: the broker on 127.0.0.1:5672 if it answers AMQP, otherwise a node of
# our own (dapr_lab@localhost) on loopback only (AMQP, Erlang distribution, epmd), with its
# config, data (mnesia), logs and Erlang cookie in the cache. Source it.
RABBITMQ_PORT=5672
RABBITMQ_DIR="$CACHE/rabbitmq"
RABBITMQ_LAB_NODE=dapr_lab@localhost
RABBITMQ_START_TIMEOUT=60

rabbitmq_ping() {
  # No client needed: over bash's /dev/tcp, RabbitMQ answers the AMQP 0-9-1 protocol header
  # with a method frame (type 1: connection.start). RabbitMQ opens its AMQP listener late in
  # its boot, so this answering already means (nearly) booted.
  (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_PORT" && printf 'AMQP\x00\x00\x09\x01' >&3 \
    && IFS= read -r -N 1 -t 2 frame <&3 && [[ $frame == $'\x01' ]]) 2>/dev/null
}

# Debian keeps RabbitMQ's own scripts in /usr/lib/rabbitmq/bin: its /usr/sbin ones are
# wrappers that only root or the rabbitmq user may run, and that switch to that user.
_rabbitmq_bin() {
  if [ -x "/usr/lib/rabbitmq/bin/$1" ]; then echo "/usr/lib/rabbitmq/bin/$1"; else command -v "$1" 2>/dev/null; fi
}

# _rabbitmq [--detached] TOOL ARGS...: runs one of RabbitMQ's scripts (rabbitmq-server,
# rabbitmqctl, ...) for the lab's node, all of it in $RABBITMQ_DIR: HOME there holds the
# Erlang cookie the server and the CLI share; nothing is read from /etc/rabbitmq. The AMQP
# listener, the Erlang distribution (server and CLI) and epmd listen on 127.0.0.1 only.
# --detached: in the background, in a session of its own (setsid, where there is one) so that
# a Ctrl+C meant for the caller does not reach it, output to log/startup.log, its pid in
# startup.pid (that process lives as long as the node), disowned so that a caller's `wait`
# does not wait for it.
_rabbitmq() {
  local detached=0 bin
  [ "$1" = --detached ] && { detached=1; shift; }
  bin=$(_rabbitmq_bin "$1") || return 127; shift
  set -- env HOME="$RABBITMQ_DIR" \
    RABBITMQ_NODENAME="$RABBITMQ_LAB_NODE" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBITMQ_PORT" \
    RABBITMQ_DIST_PORT=$((RABBITMQ_PORT + 20000)) \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CONFIG_FILE="$RABBITMQ_DIR/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$RABBITMQ_DIR/advanced.config" \
    RABBITMQ_CONF_ENV_FILE="$RABBITMQ_DIR/rabbitmq-env.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RABBITMQ_DIR/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$RABBITMQ_DIR/mnesia" \
    RABBITMQ_LOG_BASE="$RABBITMQ_DIR/log" \
    RABBITMQ_PID_FILE="$RABBITMQ_DIR/rabbitmq.pid" \
    "$bin" "$@"
  if [ $detached = 1 ]; then
    local detach=; command -v setsid >/dev/null 2>&1 && detach=setsid
    (cd "$RABBITMQ_DIR" && exec $detach sh -c 'echo $$ >startup.pid && exec "$@"' sh "$@" \
      </dev/null >>"$RABBITMQ_DIR/log/startup.log" 2>&1) &
    disown
  else
    (cd "$RABBITMQ_DIR" && exec "$@")
  fi
}

rabbitmq_install() {
  [ -n "$(_rabbitmq_bin rabbitmq-server)" ] && return 0
  install_package rabbitmq-server "RabbitMQ (with Erlang; this can take a minute)" "RabbitMQ is not running on 127.0.0.1:$RABBITMQ_PORT and rabbitmq-server is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install rabbitmq-server'; macOS: 'brew install rabbitmq') or start a RabbitMQ on port $RABBITMQ_PORT, then run this again."
}

# wait_for's test while our node boots: up, or still booting (progress every 10 s), or gone.
_rabbitmq_booted() {
  rabbitmq_ping && return 0
  local pid
  if pid=$(cat "$RABBITMQ_DIR/startup.pid" 2>/dev/null) && ! kill -0 "$pid" 2>/dev/null; then
    rabbitmq_down
    die "rabbitmq-server stopped during start-up; see $RABBITMQ_DIR/log (startup.log, $RABBITMQ_LAB_NODE.log)"
  fi
  if [ $SECONDS -ge "$_RABBITMQ_NEXT_SAY" ]; then
    say "RabbitMQ is still starting ($((SECONDS - _RABBITMQ_T0)) s)..."
    _RABBITMQ_NEXT_SAY=$((SECONDS + 10))
  fi
  return 1
}

# Sets RABBITMQ_STARTED=1 when it had to start one (so the caller stops it again).
rabbitmq_up() {
  RABBITMQ_STARTED=0
  if rabbitmq_ping; then say "RabbitMQ answers on 127.0.0.1:$RABBITMQ_PORT"; return 0; fi
  rabbitmq_install
  # A service of the package may run after all (started by hand, or by systemd); use it if so.
  if rabbitmq_ping; then say "RabbitMQ answers on 127.0.0.1:$RABBITMQ_PORT"; return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_PORT") 2>/dev/null; then
    die "something listens on 127.0.0.1:$RABBITMQ_PORT but does not answer AMQP. Stop it, then run this again."
  fi
  mkdir -p "$RABBITMQ_DIR/log"
  # Rewritten on each start; address and port come from RABBITMQ_NODE_IP_ADDRESS/_PORT.
  cat >"$RABBITMQ_DIR/rabbitmq.conf" <<EOF
# Written by scripts/rabbitmq.sh: the lab's own node, loopback only.
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
  rm -f "$RABBITMQ_DIR/rabbitmq.pid" "$RABBITMQ_DIR/startup.pid"
  say "starting rabbitmq-server (node $RABBITMQ_LAB_NODE) on 127.0.0.1:$RABBITMQ_PORT (data and logs in $RABBITMQ_DIR); this takes a while"
  _RABBITMQ_T0=$SECONDS _RABBITMQ_NEXT_SAY=$((SECONDS + 10))
  _rabbitmq --detached rabbitmq-server || die "rabbitmq-server did not start; see $RABBITMQ_DIR/log/startup.log"
  # Booted: the AMQP listener answers, and the node says its boot has finished.
  if ! wait_for "$RABBITMQ_START_TIMEOUT" _rabbitmq_booted \
    || ! _rabbitmq rabbitmqctl -n "$RABBITMQ_LAB_NODE" -q await_startup --timeout 30 >/dev/null 2>&1; then
    rabbitmq_down
    die "RabbitMQ did not come up within $RABBITMQ_START_TIMEOUT s; see $RABBITMQ_DIR/log (startup.log, $RABBITMQ_LAB_NODE.log)"
  fi
  say "RabbitMQ is up ($((SECONDS - _RABBITMQ_T0)) s)"
  RABBITMQ_STARTED=1
}

# epmd, Erlang's port mapper, is a daemon of its own that outlives the node. Ours is the one
# started from our node's environment (RABBITMQ_MNESIA_BASE in its /proc environ); it is
# stopped once no node is registered with it any more (never someone else's epmd).
_rabbitmq_epmd_down() {
  local pid exe
  for pid in $(pgrep -x epmd 2>/dev/null); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RABBITMQ_MNESIA_BASE=$RABBITMQ_DIR/mnesia" || continue
    exe=$(readlink "/proc/$pid/exe") || continue
    wait_for 5 bash -c '! "$1" -names 2>/dev/null | grep -q "^name "' _ "$exe" || continue
    say "stopping the epmd our RabbitMQ node started (pid $pid)"
    kill "$pid"
    wait_for 5 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
  done
}

# Stops the RabbitMQ node this project started (never someone else's), then its epmd. The
# node's pid file appears only some way into its boot: before that, the rabbitmq-server script
# that runs it is stopped instead (it passes SIGTERM on to the node).
rabbitmq_down() {
  local pid file
  for file in rabbitmq.pid startup.pid; do
    pid=$(cat "$RABBITMQ_DIR/$file" 2>/dev/null) || continue
    if kill -0 "$pid" 2>/dev/null && grep -q rabbit "/proc/$pid/cmdline" 2>/dev/null; then
      [ $file = rabbitmq.pid ] && say "stopping the lab's RabbitMQ node $RABBITMQ_LAB_NODE (pid $pid)"
      # SIGTERM stops a RabbitMQ node as cleanly as `rabbitmqctl stop` does, and cannot hang:
      # that CLI waits without end on a node that does not answer.
      kill "$pid"
      wait_for 30 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RABBITMQ_DIR/$file"
  done
  _rabbitmq_epmd_down
}
