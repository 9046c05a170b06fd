# Mosquitto (MQTT) for the lab: the broker on 127.0.0.1:1883 if it answers, otherwise a
# mosquitto of our own, bound to loopback, with its config, persistence and log in the cache.
# Source it.
MOSQUITTO_PORT=1883
MOSQUITTO_DIR="$CACHE/mosquitto"

mosquitto_ping() {
  # No MQTT client needed: an MQTT 3.1.1 CONNECT (clean session, no client id) over bash's
  # /dev/tcp must be answered by CONNACK "accepted" (20 02 00 00); then DISCONNECT.
  # Each `read -d ''` stops at a NUL: the first at byte 3 (session present 0), the second,
  # empty, at byte 4 (return code 0).
  (exec 3<>"/dev/tcp/127.0.0.1/$MOSQUITTO_PORT" && printf '\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00' >&3 \
    && IFS= read -r -d '' -t 2 head <&3 && [[ $head == $'\x20\x02' ]] \
    && IFS= read -r -d '' -t 1 code <&3 && [ -z "$code" ] && printf '\xe0\x00' >&3) 2>/dev/null
}

# mosquitto lives in /usr/sbin on Debian, which is not on a normal user's PATH.
_mosquitto_bin() {
  command -v mosquitto 2>/dev/null || { [ -x /usr/sbin/mosquitto ] && echo /usr/sbin/mosquitto; }
}

mosquitto_install() {
  [ -n "$(_mosquitto_bin)" ] && return 0
  install_package mosquitto Mosquitto "Mosquitto is not running on 127.0.0.1:$MOSQUITTO_PORT and mosquitto is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install mosquitto'; macOS: 'brew install mosquitto') or start an MQTT broker on port $MOSQUITTO_PORT, then run this again."
}

# Sets MOSQUITTO_STARTED=1 when it had to start one (so the caller stops it again).
mosquitto_up() {
  MOSQUITTO_STARTED=0
  if mosquitto_ping; then say "Mosquitto answers on 127.0.0.1:$MOSQUITTO_PORT"; return 0; fi
  mosquitto_install
  # A service of the package may run after all (started by hand, or by systemd); use it if so.
  if mosquitto_ping; then say "Mosquitto answers on 127.0.0.1:$MOSQUITTO_PORT"; return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$MOSQUITTO_PORT") 2>/dev/null; then
    die "something listens on 127.0.0.1:$MOSQUITTO_PORT but does not answer MQTT. Stop it, then run this again."
  fi
  mkdir -p "$MOSQUITTO_DIR"
  # Rewritten on each start. `user`: as root, mosquitto would otherwise switch to the
  # "mosquitto" user, which cannot write into our cache; as any other user it is ignored.
  cat >"$MOSQUITTO_DIR/mosquitto.conf" <<EOF
# Written by scripts/mosquitto.sh: the lab's own MQTT broker, loopback only.
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $MOSQUITTO_DIR/
pid_file $MOSQUITTO_DIR/mosquitto.pid
log_dest file $MOSQUITTO_DIR/mosquitto.log
user $(id -un)
EOF
  say "starting mosquitto on 127.0.0.1:$MOSQUITTO_PORT (persistence and log in $MOSQUITTO_DIR)"
  "$(_mosquitto_bin)" -c "$MOSQUITTO_DIR/mosquitto.conf" -d </dev/null >>"$MOSQUITTO_DIR/mosquitto.log" 2>&1 \
    || die "mosquitto did not start; see $MOSQUITTO_DIR/mosquitto.log"
  if ! wait_for 10 mosquitto_ping; then
    mosquitto_down
    die "mosquitto started but does not answer; see $MOSQUITTO_DIR/mosquitto.log"
  fi
  MOSQUITTO_STARTED=1
}

# Stops the mosquitto this project started (never someone else's).
mosquitto_down() {
  stop_pidfile mosquitto "$MOSQUITTO_DIR/mosquitto.pid" mosquitto
}
