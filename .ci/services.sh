# shellcheck shell=bash
# Sourced by .ci/run: installs PostgreSQL, Redis and Chromium from Debian packages,
# starts the two servers on loopback in a private folder, and exports
#   DFL_TEST_POSTGRES_URL  DFL_TEST_REDIS_URL  DFL_TEST_CHROMIUM  DFL_TEST_CHROMEDRIVER
# for the tests marked postgres / redis / browser. Without root or apt-get it
# starts whatever is already installed; tests of a missing server skip with a reason.
# The servers stop when the calling shell exits.

dfl_services_dir="$(mktemp -d /tmp/dfl-ci-services.XXXXXX)"

dfl_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

dfl_stop_services() {
  if [ -n "${dfl_pg_bin:-}" ] && [ -d "$dfl_services_dir/pg" ]; then
    dfl_as_postgres "$dfl_pg_bin/pg_ctl" -D "$dfl_services_dir/pg" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ -n "${dfl_redis_port:-}" ]; then
    redis-cli -p "$dfl_redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
  rm -rf "$dfl_services_dir"
}
trap dfl_stop_services EXIT

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || echo "apt-get update failed; using the package lists at hand" >&2
  apt-get install -y -qq postgresql redis-server chromium chromium-driver >/dev/null \
    || echo "could not install every test service; their tests will skip" >&2
fi

# PostgreSQL refuses to run as root: run it as the `postgres` user when we are root.
dfl_as_postgres() {
  if [ "$(id -u)" = "0" ] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

dfl_pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -n "$dfl_pg_bin" ] && [ -x "$dfl_pg_bin/initdb" ]; then
  mkdir -p "$dfl_services_dir/pg"
  if [ "$(id -u)" = "0" ]; then chown -R postgres "$dfl_services_dir"; fi
  dfl_pg_port="$(dfl_free_port)"
  if dfl_as_postgres "$dfl_pg_bin/initdb" -D "$dfl_services_dir/pg" -U postgres -A trust >/dev/null \
    && dfl_as_postgres "$dfl_pg_bin/pg_ctl" -D "$dfl_services_dir/pg" -l "$dfl_services_dir/pg.log" -w \
         -o "-c listen_addresses=127.0.0.1 -p $dfl_pg_port -k $dfl_services_dir -c fsync=off" start >/dev/null; then
    export DFL_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$dfl_pg_port/postgres"
  else
    echo "PostgreSQL did not start; the postgres tests will skip" >&2
  fi
fi

if command -v redis-server >/dev/null 2>&1; then
  dfl_redis_port="$(dfl_free_port)"
  if redis-server --port "$dfl_redis_port" --bind 127.0.0.1 --daemonize yes --save "" \
       --appendonly no --dir "$dfl_services_dir" --logfile "$dfl_services_dir/redis.log" >/dev/null; then
    for _ in $(seq 50); do
      redis-cli -p "$dfl_redis_port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    export DFL_TEST_REDIS_URL="redis://127.0.0.1:$dfl_redis_port/0"
  else
    dfl_redis_port=""
    echo "Redis did not start; the redis tests will skip" >&2
  fi
fi

for dfl_candidate in chromium chromium-browser google-chrome; do
  if command -v "$dfl_candidate" >/dev/null 2>&1; then
    export DFL_TEST_CHROMIUM="$(command -v "$dfl_candidate")"
    break
  fi
done
if command -v chromedriver >/dev/null 2>&1; then
  export DFL_TEST_CHROMEDRIVER="$(command -v chromedriver)"
fi
