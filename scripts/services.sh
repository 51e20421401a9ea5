#!/usr/bin/env bash
# Installs (from Debian packages) and starts the local services the test suite and
# benchmarks run against: Redis, RabbitMQ, promtool, and Graphviz for `npm run diagram`.
# Idempotent: a service that already answers is left alone. Every wait is bounded; a service that never answers fails loudly.
set -euo pipefail

APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" != "0" ]; then
    echo "services: $* missing and not root; install them with apt-get" >&2
    exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # name, timeout seconds, command...
  local name=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "services: $name did not answer within ${timeout}s" >&2
      exit 1
    fi
    sleep 0.5
  done
}

ensure_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v dot >/dev/null || missing+=(graphviz) # npm run diagram (SVG) and its test
  for extra in "$@"; do
    command -v "$extra" >/dev/null || missing+=("$extra")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "services: installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

ensure_redis() {
  if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
    echo "services: starting redis-server"
    redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null
  fi
  wait_for redis 30 redis-cli -p 6379 ping
}

ensure_rabbitmq() {
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    echo "services: starting rabbitmq-server"
    # The broker counts sockets and queue segment files against one file-handle budget taken
    # from its soft limit; at the 1,024 that `su rabbitmq` leaves, parallel test runs' quorum
    # queues exhaust it and new connections hang in the handshake (systemd would give 65,536).
    # The env file is sourced by the broker's own start script, after su.
    local env_file=/etc/rabbitmq/rabbitmq-env.conf
    if ! grep -q 'surgeguard: file limit' "$env_file" 2>/dev/null; then
      printf '\n# surgeguard: file limit (scripts/services.sh)\nulimit -n "$(ulimit -Hn)" 2>/dev/null || true\n' >> "$env_file"
    fi
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  wait_for rabbitmq 120 rabbitmqctl -q await_startup
  wait_for rabbitmq-amqp 30 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'
}

# nginx and haproxy are only needed by benchmarks: `services.sh nginx`.
ensure_packages "$@"
ensure_redis
ensure_rabbitmq
echo "services: redis, rabbitmq, promtool and graphviz ready"
