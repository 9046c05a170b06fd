# Zipkin for the lab's traces (config/tracing.yaml sends the sidecars' spans to it): the one
# on 127.0.0.1:9411 if it answers, otherwise a Zipkin server of our own, bound to loopback,
# keeping spans in memory, with its jar, log and pid file in the cache. Source it, after
# common.sh.
#
# The server is Zipkin's executable jar from Maven Central (io.zipkin:zipkin-server, classifier
# exec; no Docker here), fetched once by mvn into $CACHE/zipkin-<version>. 3.6.1 is the newest
# release there; Zipkin 3 needs Java 17 or newer.
ZIPKIN_VERSION=3.6.1
ZIPKIN_PORT=9411
ZIPKIN_HOME="$CACHE/zipkin-$ZIPKIN_VERSION"
ZIPKIN_JAR="$ZIPKIN_HOME/zipkin-server-$ZIPKIN_VERSION-exec.jar"
ZIPKIN_DIR="$CACHE/zipkin"
ZIPKIN_URL="http://127.0.0.1:$ZIPKIN_PORT"

zipkin_ping() {
  # No curl needed: GET /health over bash's /dev/tcp. Zipkin answers 200 with its storage's
  # status ("zipkin" in the body) once it takes spans; anything else on the port does not count.
  (
    exec 3<>"/dev/tcp/127.0.0.1/$ZIPKIN_PORT" || exit 1
    printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 || exit 1
    # Line by line: Armeria keeps the connection open a while after answering.
    read -r -t 2 status <&3 && [[ $status == 'HTTP/1.1 200'* ]] || exit 1
    while IFS= read -r -t 2 line <&3; do [[ $line == *'"zipkin"'* ]] && exit 0; done
    exit 1
  ) 2>/dev/null
}

# The pid of the Zipkin this project started, if it is still running.
zipkin_pid() {
  local pid
  pid=$(cat "$ZIPKIN_DIR/zipkin.pid" 2>/dev/null) && [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null && grep -qF "$ZIPKIN_JAR" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

zipkin_install() {
  command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 || die "Zipkin is not running on 127.0.0.1:$ZIPKIN_PORT, and starting one needs java (17+) and mvn.
Fix: install them (Debian/Ubuntu: 'sudo apt-get install openjdk-17-jre-headless maven'; macOS: 'brew install openjdk@17 maven') or start a Zipkin on port $ZIPKIN_PORT, then run this again."
  [[ $(java -version 2>&1) =~ version\ \"(1\.)?([0-9]+) ]] && [ "${BASH_REMATCH[2]}" -ge 17 ] \
    || die "Zipkin $ZIPKIN_VERSION needs Java 17 or newer; 'java -version' says: $(java -version 2>&1 | head -n 1).
Fix: 'sudo apt-get install openjdk-17-jre-headless' (and pick it with 'sudo update-alternatives --config java'), then run this again."
  [ -f "$ZIPKIN_HOME/.complete" ] && return 0
  mkdir -p "$ZIPKIN_HOME"
  say "fetching Zipkin $ZIPKIN_VERSION's server jar (135 MB) from Maven Central into $ZIPKIN_HOME (once)..."
  rm -f "$ZIPKIN_JAR"
  # Run in the cache folder, where no pom.xml is: dependency:copy needs no project.
  (cd "$ZIPKIN_HOME" && mvn -B -q -Dstyle.color=never dependency:copy \
      -Dartifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" -DoutputDirectory=.) \
    >"$ZIPKIN_HOME/mvn.log" 2>&1 && [ -f "$ZIPKIN_JAR" ] || die "Maven could not fetch Zipkin $ZIPKIN_VERSION; see $ZIPKIN_HOME/mvn.log"
  # The marker says the jar is whole: an interrupted download is fetched again.
  touch "$ZIPKIN_HOME/.complete"
}

# Sets ZIPKIN_STARTED=1 when it had to start one (so the caller stops it again).
zipkin_up() {
  ZIPKIN_STARTED=0
  if zipkin_ping; then say "Zipkin answers on $ZIPKIN_URL (UI: $ZIPKIN_URL/zipkin/)"; return 0; fi
  local pid
  if pid=$(zipkin_pid); then
    # An earlier call started it and it is still coming up: wait for that one.
    say "waiting for the lab's Zipkin (pid $pid) to come up"
  else
    zipkin_install
    mkdir -p "$ZIPKIN_DIR"
    say "starting Zipkin $ZIPKIN_VERSION on $ZIPKIN_URL (spans in memory, log in $ZIPKIN_DIR/zipkin.log)"
    # Zipkin 3 serves with Armeria, not Tomcat, so server.address does nothing: its port list
    # binds it, to loopback only (given whole, as Spring replaces lists). Settings go on the
    # command line, where they win over environment variables such as STORAGE_TYPE. The
    # in-memory store is capped so it fits the small heap (the default, 500000 spans, does not).
    daemon "$ZIPKIN_DIR/zipkin.pid" "$ZIPKIN_DIR/zipkin.log" \
      java -Xms64m -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true -jar "$ZIPKIN_JAR" \
      "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].port=$ZIPKIN_PORT" "--armeria.ports[0].protocols[0]=http" \
      --zipkin.storage.type=mem --zipkin.storage.mem.max-spans=100000
    wait_for 10 zipkin_pid >/dev/null || die "Zipkin did not start; see $ZIPKIN_DIR/zipkin.log"
    ZIPKIN_STARTED=1
  fi
  if ! wait_for 60 zipkin_ready_or_gone; then
    [ "$ZIPKIN_STARTED" = 1 ] && zipkin_down
    die "Zipkin started but did not answer on $ZIPKIN_URL within 60 s; see $ZIPKIN_DIR/zipkin.log"
  fi
  zipkin_ping || die "Zipkin exited before it answered (is port $ZIPKIN_PORT taken?); see $ZIPKIN_DIR/zipkin.log"
  say "Zipkin answers on $ZIPKIN_URL; traces in its UI: $ZIPKIN_URL/zipkin/"
}

# For zipkin_up's wait: done when Zipkin answers, or when ours is no longer running.
zipkin_ready_or_gone() { zipkin_ping || ! zipkin_pid >/dev/null; }

# Stops the Zipkin this project started (never someone else's).
zipkin_down() {
  stop_pidfile Zipkin "$ZIPKIN_DIR/zipkin.pid" "$ZIPKIN_JAR"
}

# Stops Zipkin if this shell started it (for an EXIT trap).
zipkin_down_started() {
  if [ "${ZIPKIN_STARTED:-0}" = 1 ]; then zipkin_down; fi
  ZIPKIN_STARTED=0
}
