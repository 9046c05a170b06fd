# NATS with JetStream for the lab: the server on 127.0.0.1:4222 if it answers with JetStream
# on, otherwise a nats-server of our own, bound to loopback, with its JetStream store, pid
# file and log in the cache. Source it.
NATS_PORT=4222
NATS_DIR="$CACHE/nats"

nats_ping() {
  # No nats CLI needed: over bash's /dev/tcp a NATS server greets with an INFO line (which
  # says "jetstream":true when JetStream is on) and answers PING with PONG.
  (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT" && read -r -t 2 info <&3 && [[ $info == INFO* && $info == *'"jetstream":true'* ]] \
    && printf 'CONNECT {"verbose":false,"name":"dapr-pubsub-lab ping"}\r\nPING\r\n' >&3 \
    && read -r -t 2 reply <&3 && [[ $reply == PONG* ]]) 2>/dev/null
}

# nats-server lives in /usr/sbin on Debian, which is not on a normal user's PATH.
_nats_bin() {
  command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; }
}

nats_install() {
  [ -n "$(_nats_bin)" ] && return 0
  install_package nats-server NATS "NATS is not running on 127.0.0.1:$NATS_PORT and nats-server is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install nats-server'; macOS: 'brew install nats-server') or start a NATS server with JetStream ('nats-server -js') on port $NATS_PORT, then run this again."
}

# Sets NATS_STARTED=1 when it had to start one (so the caller stops it again).
nats_up() {
  NATS_STARTED=0
  if nats_ping; then say "NATS (JetStream) answers on 127.0.0.1:$NATS_PORT"; return 0; fi
  nats_install
  # A service of the package may run after all (started by hand, or by systemd); use it if so.
  if nats_ping; then say "NATS (JetStream) answers on 127.0.0.1:$NATS_PORT"; return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null; then
    die "something listens on 127.0.0.1:$NATS_PORT but is not a NATS server with JetStream on (a nats-server started without -js?). Stop it, then run this again."
  fi
  mkdir -p "$NATS_DIR"
  say "starting nats-server with JetStream on 127.0.0.1:$NATS_PORT (store and log in $NATS_DIR)"
  # nats-server has no daemon mode: in the background, in a session of its own (setsid, where
  # there is one) so that a Ctrl+C meant for the caller does not reach it; disowned so that a
  # caller's `wait` does not wait for it.
  local detach=; command -v setsid >/dev/null 2>&1 && detach=setsid
  $detach "$(_nats_bin)" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$NATS_DIR" \
    -P "$NATS_DIR/nats.pid" -l "$NATS_DIR/nats.log" </dev/null >>"$NATS_DIR/nats.log" 2>&1 &
  disown
  if ! wait_for 10 nats_ping; then
    nats_down
    die "nats-server did not start or does not answer; see $NATS_DIR/nats.log"
  fi
  NATS_STARTED=1
}

# Stops the nats-server this project started (never someone else's).
nats_down() {
  stop_pidfile nats-server "$NATS_DIR/nats.pid" nats-server
}
