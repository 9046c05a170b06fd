# Kafka for the lab: the broker on 127.0.0.1:9092 if one answers, otherwise a single-node
# KRaft broker of our own (broker and controller in one JVM), bound to loopback, with its jars,
# config, data and log in the cache. Source it, after common.sh.
#
# The jars come from Maven Central only (the one place this machine and CI can fetch them
# from), resolved once by a generated pom.xml into $CACHE/kafka-<version>/lib.
#
# Version: 4.3.1, the newest release whose jars Maven Central serves in full. (4.4.0 is listed
# there, but its kafka-tools-api artifact, a runtime dependency of the broker, is not, so the
# 4.4.0 broker cannot be resolved.) Kafka 4.x brokers need Java 17 or newer.
#
# Dapr: Kafka 4.0 removed the protocol versions older than Kafka 2.1's (KIP-896). Dapr's
# pubsub.kafka (sarama) sends requests at the level its `version` metadata claims, "2.0.0" when
# unset. The request versions of that level that Dapr uses are ones a 4.x broker still accepts
# (sarama >= 1.46, Dapr 1.18 has 1.48, also caps them at what the broker's ApiVersions answer
# allows), so the default works against this broker: checked with daprd 1.18.3 (publish,
# subscribe, consumer group, offset commit across a sidecar restart; no errors on either
# side). Nothing needs setting. To pin it anyway, write three numbers, e.g.
# version: "3.9.0": sarama rejects "2.0.0.0" and "3.9.0.0" ("kafka error: invalid kafka
# version", the sidecar exits), although the component's metadata lists its default as
# "2.0.0.0"; only 0.x versions take four numbers.
KAFKA_VERSION=4.3.1
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
KAFKA_DIR="$CACHE/kafka-data"
# A fixed cluster id (base64url of "dapr-pubsub-lab1"): the data dir is formatted with it once.
KAFKA_CLUSTER_ID=ZGFwci1wdWJzdWItbGFiMQ

kafka_ping() {
  # No Kafka tools (or JVM start) needed: one ApiVersions v0 request over bash's /dev/tcp,
  # correlation id "lab!". A broker answers it only once it serves requests (the port is
  # bound earlier), with that correlation id and error code 0. Bytes are read one at a time
  # with NUL as the delimiter, so a NUL byte reads as an empty string.
  (
    export LC_ALL=C
    exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT" || exit 1
    printf '\x00\x00\x00\x0d\x00\x12\x00\x00lab!\x00\x03lab' >&3 || exit 1
    reply='' i=0
    while [ $i -lt 10 ]; do
      IFS= read -r -t 2 -n 1 -d '' c <&3 || exit 1
      reply+=${c:-.}; i=$((i + 1))
    done
    # 4 bytes of size, the correlation id, then error code 0 (two NULs).
    [[ ${reply:4} == 'lab!..' ]]
  ) 2>/dev/null
}

# The pid of the broker this project started, if it is still running.
kafka_pid() {
  local pid
  pid=$(cat "$KAFKA_DIR/kafka.pid" 2>/dev/null) && [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null && grep -qF "$KAFKA_DIR/server.properties" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

kafka_install() {
  command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 || die "Kafka is not running on 127.0.0.1:$KAFKA_PORT, and starting one needs java (17+) and mvn.
Fix: install them (Debian/Ubuntu: 'sudo apt-get install openjdk-17-jre-headless maven'; macOS: 'brew install openjdk@17 maven') or start a Kafka broker on port $KAFKA_PORT, then run this again."
  [[ $(java -version 2>&1) =~ version\ \"(1\.)?([0-9]+) ]] && [ "${BASH_REMATCH[2]}" -ge 17 ] \
    || die "Kafka $KAFKA_VERSION needs Java 17 or newer; 'java -version' says: $(java -version 2>&1 | head -n 1).
Fix: 'sudo apt-get install openjdk-17-jre-headless' (and pick it with 'sudo update-alternatives --config java'), then run this again."
  [ -f "$KAFKA_HOME/lib/.complete" ] && return 0
  mkdir -p "$KAFKA_HOME"
  # The broker (kafka_2.13 brings the server modules at runtime scope) and an SLF4J binding
  # so that it logs: Kafka 4.x still builds against slf4j-api 1.7, and slf4j-simple is its
  # smallest binding (plain lines on stderr, no config file).
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lab</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
EOF
  say "fetching Apache Kafka $KAFKA_VERSION's jars from Maven Central into $KAFKA_HOME/lib (once; takes a while)..."
  rm -rf "$KAFKA_HOME/lib"
  (cd "$KAFKA_HOME" && mvn -B -q -U -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=lib) \
    >"$KAFKA_HOME/mvn.log" 2>&1 || die "Maven could not fetch Kafka $KAFKA_VERSION; see $KAFKA_HOME/mvn.log"
  touch "$KAFKA_HOME/lib/.complete"
}

kafka_config() {
  mkdir -p "$KAFKA_DIR"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/kafka.sh on each start: a single-node KRaft broker for the lab.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DIR/logs
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

# Sets KAFKA_STARTED=1 when it had to start one (so the caller stops it again).
kafka_up() {
  KAFKA_STARTED=0
  if kafka_ping; then say "Kafka answers on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  local pid
  if pid=$(kafka_pid); then
    # An earlier call started it and it is still coming up: wait for that one.
    say "waiting for the lab's Kafka broker (pid $pid) to come up"
  else
    kafka_install
    kafka_config
    if [ ! -f "$KAFKA_DIR/logs/meta.properties" ]; then
      say "formatting Kafka's storage in $KAFKA_DIR/logs (once)"
      java -cp "$KAFKA_HOME/lib/*" kafka.tools.StorageTool format --standalone \
        --cluster-id "$KAFKA_CLUSTER_ID" --config "$KAFKA_DIR/server.properties" \
        >"$KAFKA_DIR/format.log" 2>&1 || die "formatting Kafka's storage failed; see $KAFKA_DIR/format.log"
    fi
    say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (KRaft, data in $KAFKA_DIR/logs, log in $KAFKA_DIR/kafka.log)"
    daemon "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/kafka.log" \
      java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd HH:mm:ss,SSS" \
      -cp "$KAFKA_HOME/lib/*" kafka.Kafka "$KAFKA_DIR/server.properties"
    wait_for 10 kafka_pid >/dev/null || die "Kafka did not start; see $KAFKA_DIR/kafka.log"
    KAFKA_STARTED=1
  fi
  if ! wait_for 60 kafka_ready_or_gone; then
    [ "$KAFKA_STARTED" = 1 ] && kafka_down
    die "Kafka started but did not answer on 127.0.0.1:$KAFKA_PORT within 60 s; see $KAFKA_DIR/kafka.log"
  fi
  kafka_ping || die "Kafka exited before it answered; see $KAFKA_DIR/kafka.log"
  say "Kafka answers on 127.0.0.1:$KAFKA_PORT"
}

# For kafka_up's wait: done when the broker answers, or when ours is no longer running.
kafka_ready_or_gone() { kafka_ping || ! kafka_pid >/dev/null; }

# Stops the broker this project started (never someone else's).
kafka_down() {
  local pid
  pid=$(kafka_pid) || { rm -f "$KAFKA_DIR/kafka.pid"; return 0; }
  say "stopping the lab's Kafka broker (pid $pid)"
  kill "$pid" 2>/dev/null || true
  # A clean shutdown (it flushes its logs) takes a second or two; SIGKILL after 30.
  if ! wait_for 30 bash -c "! kill -0 $pid 2>/dev/null"; then
    say "Kafka did not stop within 30 s: killing it"
    kill -9 "$pid" 2>/dev/null
    wait_for 5 bash -c "! kill -0 $pid 2>/dev/null" || true
  fi
  rm -f "$KAFKA_DIR/kafka.pid"
}
