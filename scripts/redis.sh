# Redis for the lab: the one on 127.0.0.1:6379 if it answers, otherwise a redis-server of
# our own, bound to loopback, with its data and AOF log in the cache. Source it.
REDIS_PORT=6379
REDIS_DIR="$CACHE/redis"

redis_ping() {
  # No redis-cli needed: one PING over bash's /dev/tcp.
  (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null
}

redis_install() {
  command -v redis-server >/dev/null 2>&1 && return 0
  install_package redis-server Redis "Redis is not running on 127.0.0.1:$REDIS_PORT and redis-server is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install redis-server'; macOS: 'brew install redis') or start a Redis on port $REDIS_PORT, then run this again."
}

# Sets REDIS_STARTED=1 when it had to start one (so the caller stops it again).
redis_up() {
  REDIS_STARTED=0
  if redis_ping; then say "Redis answers on 127.0.0.1:$REDIS_PORT"; return 0; fi
  redis_install
  # The Debian package may have started its own service; use it if so.
  if redis_ping; then say "Redis answers on 127.0.0.1:$REDIS_PORT"; return 0; fi
  mkdir -p "$REDIS_DIR"
  say "starting redis-server on 127.0.0.1:$REDIS_PORT (data and AOF in $REDIS_DIR)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --appendonly yes \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
    || die "redis-server did not start; see $REDIS_DIR/redis.log"
  wait_for 10 redis_ping || die "redis-server started but does not answer; see $REDIS_DIR/redis.log"
  REDIS_STARTED=1
}

# Stops the redis-server this project started (never someone else's).
redis_down() {
  stop_pidfile redis-server "$REDIS_DIR/redis.pid" redis-server
}
