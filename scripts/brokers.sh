# The brokers by the names `npm start -- --broker NAME` knows. Each one's own file says how
# it is found, installed, started and stopped; this file only dispatches. Source it.
for f in redis kafka rabbitmq nats mosquitto; do source "$REPO/scripts/$f.sh"; done
BROKERS=(redis kafka rabbitmq jetstream mqtt)
STARTED_BROKERS=()

broker_ping() {
  case $1 in
    redis) redis_ping ;; kafka) kafka_ping ;; rabbitmq) rabbitmq_ping ;;
    jetstream) nats_ping ;; mqtt) mosquitto_ping ;; *) return 1 ;;
  esac
}

# broker_up NAME [TOPIC]: uses the broker if it answers, else installs and starts it.
broker_up() {
  local started=0
  case $1 in
    redis) redis_up; started=$REDIS_STARTED ;;
    kafka) kafka_up; started=$KAFKA_STARTED ;;
    rabbitmq) rabbitmq_up; started=$RABBITMQ_STARTED ;;
    jetstream) nats_up; started=$NATS_STARTED
      jetstream_stream "${2:-orders}"; jetstream_stream "${2:-orders}-deadletter" ;;
    mqtt) mosquitto_up; started=$MOSQUITTO_STARTED ;;
    external) say "orderpubsub uses a broker the lab does not provision: make sure it is running."; return 0 ;;
    *) die "Unknown broker '$1'. Known: ${BROKERS[*]}." ;;
  esac
  if [ "$started" = 1 ]; then STARTED_BROKERS+=("$1"); fi
  return 0
}

broker_down() {
  case $1 in
    redis) redis_down ;; kafka) kafka_down ;; rabbitmq) rabbitmq_down ;;
    jetstream) nats_down ;; mqtt) mosquitto_down ;;
  esac
}

# Stops the brokers this shell started (for an EXIT trap).
brokers_down_started() {
  local b
  for b in "${STARTED_BROKERS[@]}"; do broker_down "$b"; done
  STARTED_BROKERS=()
}

# JetStream stores only subjects that some stream captures, and Dapr does not create
# streams. This makes sure a stream named after the topic captures it, with one
# request/reply on the NATS protocol (no nats CLI needed).
jetstream_stream() {
  local name=$1 body reply='' line
  body="{\"name\":\"$name\",\"subjects\":[\"$name\"],\"storage\":\"file\"}"
  exec 3<>/dev/tcp/127.0.0.1/4222 || die "NATS does not answer on 127.0.0.1:4222"
  read -r -t 2 line <&3 # INFO
  printf 'CONNECT {"verbose":false}\r\nSUB _INBOX.lab 1\r\nPUB $JS.API.STREAM.CREATE.%s _INBOX.lab %d\r\n%s\r\n' "$name" "${#body}" "$body" >&3
  while read -r -t 5 line <&3; do
    case $line in
      MSG*) read -r -t 5 reply <&3; break ;;
      PING*) printf 'PONG\r\n' >&3 ;;
      -ERR*) reply=$line; break ;;
    esac
  done
  exec 3>&-
  # Created now, or it already exists (JetStream error 10058: name already in use).
  if [[ $reply == *'"config"'* ]] || [[ $reply == *'10058'* ]]; then return 0; fi
  die "could not create the JetStream stream '$name': ${reply:-no answer}. Is nats-server running with JetStream (-js)?"
}
