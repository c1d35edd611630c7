# shellcheck shell=bash
# Sourced by .ci/run: installs PostgreSQL, MariaDB, Redis, RabbitMQ and Chromium from
# Debian packages, starts the four servers on loopback in private folders, and exports
#   DFL_TEST_POSTGRES_URL  DFL_TEST_MYSQL_URL  DFL_TEST_REDIS_URL  DFL_TEST_RABBITMQ_URL
#   DFL_TEST_CHROMIUM  DFL_TEST_CHROMEDRIVER
# for the tests marked postgres / mysql / redis / rabbitmq / browser. Without root or apt-get it
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
  if [ -n "${dfl_mysql_pid:-}" ]; then
    dfl_mysql_admin shutdown >/dev/null 2>&1 || kill "$dfl_mysql_pid" 2>/dev/null || true
    # the data folder is removed below: wait until the server has let go of it
    for _ in $(seq 100); do kill -0 "$dfl_mysql_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "${dfl_mysql_dir:-}" ]; then rm -rf "$dfl_mysql_dir"; fi
  if [ -n "${dfl_redis_port:-}" ]; then
    redis-cli -p "$dfl_redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [ -n "${dfl_rabbitmq_port:-}" ]; then
    dfl_rabbitmq rabbitmqctl stop >/dev/null 2>&1 || true
  fi
  if [ -n "${dfl_rabbitmq_dir:-}" ]; then rm -rf "$dfl_rabbitmq_dir"; fi
  rm -rf "$dfl_services_dir"
}
trap dfl_stop_services EXIT

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || echo "apt-get update failed; using the package lists at hand" >&2
  apt-get install -y -qq postgresql redis-server rabbitmq-server chromium chromium-driver >/dev/null \
    || echo "could not install every test service; their tests will skip" >&2
  # on its own line: a mirror without it must not cost the other servers
  apt-get install -y -qq mariadb-server >/dev/null \
    || echo "could not install MariaDB; the mysql tests will skip" >&2
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

# MariaDB: a data folder of its own made by mariadb-install-db, the server on loopback with
# its socket in that folder. mariadbd refuses to run as root, so it runs as the `mysql` user
# when we are root; --no-defaults keeps the system's my.cnf (socket, data folder) out of it.
dfl_as_mysql() {
  if [ "$(id -u)" = "0" ] && id mysql >/dev/null 2>&1; then
    runuser -u mysql -- "$@"
  else
    "$@"
  fi
}

dfl_mysql_admin() {
  "$dfl_mysql_bin_admin" --no-defaults --socket="$dfl_mysql_dir/mysql.sock" -u root "$@"
}

dfl_mariadbd="$(command -v mariadbd || command -v mysqld || true)"
for dfl_candidate in /usr/sbin/mariadbd /usr/sbin/mysqld; do
  if [ -z "$dfl_mariadbd" ] && [ -x "$dfl_candidate" ]; then dfl_mariadbd="$dfl_candidate"; fi
done
dfl_mysql_bin_admin="$(command -v mariadb-admin || command -v mysqladmin || true)"
dfl_mysql_client="$(command -v mariadb || command -v mysql || true)"
dfl_mysql_install_db="$(command -v mariadb-install-db || command -v mysql_install_db || true)"
if [ -n "$dfl_mariadbd" ] && [ -n "$dfl_mysql_bin_admin" ] && [ -n "$dfl_mysql_client" ] \
   && [ -n "$dfl_mysql_install_db" ]; then
  dfl_mysql_dir="$(mktemp -d /tmp/dfl-ci-mysql.XXXXXX)"
  if [ "$(id -u)" = "0" ] && id mysql >/dev/null 2>&1; then chown mysql "$dfl_mysql_dir"; fi
  dfl_mysql_port="$(dfl_free_port)"
  # root@localhost without a password (not the OS-user socket login), so the set-up below
  # works whoever runs this
  if dfl_as_mysql "$dfl_mysql_install_db" --no-defaults --datadir="$dfl_mysql_dir/data" \
       --auth-root-authentication-method=normal --skip-test-db >"$dfl_mysql_dir/install.log" 2>&1; then
    dfl_as_mysql "$dfl_mariadbd" --no-defaults --datadir="$dfl_mysql_dir/data" \
      --socket="$dfl_mysql_dir/mysql.sock" --pid-file="$dfl_mysql_dir/mysql.pid" \
      --port="$dfl_mysql_port" --bind-address=127.0.0.1 --skip-name-resolve \
      --log-error="$dfl_mysql_dir/mysql.log" --innodb-buffer-pool-size=64M \
      --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
    dfl_mysql_pid=$!
    for _ in $(seq 300); do
      dfl_mysql_admin ping >/dev/null 2>&1 && break
      kill -0 "$dfl_mysql_pid" 2>/dev/null || break
      sleep 0.1
    done
    # a user that may create and drop the tests' databases, on TCP as the tests connect
    if dfl_mysql_admin ping >/dev/null 2>&1 \
       && "$dfl_mysql_client" --no-defaults --socket="$dfl_mysql_dir/mysql.sock" -u root -e "
            CREATE DATABASE dfl_test CHARACTER SET utf8mb4;
            CREATE USER 'dfl'@'127.0.0.1' IDENTIFIED BY 'dfl';
            GRANT ALL PRIVILEGES ON *.* TO 'dfl'@'127.0.0.1';" >/dev/null 2>&1; then
      export DFL_TEST_MYSQL_URL="mysql://dfl:dfl@127.0.0.1:$dfl_mysql_port/dfl_test"
    fi
  fi
  if [ -z "${DFL_TEST_MYSQL_URL:-}" ]; then
    echo "MariaDB did not start; the mysql tests will skip" >&2
    tail -n 5 "$dfl_mysql_dir/install.log" "$dfl_mysql_dir/mysql.log" >&2 2>/dev/null || true
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

# RabbitMQ: its own node name, ports, data and cookie in a folder of its own (the one
# above belongs to PostgreSQL's user), so it neither needs nor disturbs a system-wide one. It runs as the `rabbitmq` user when we
# are root (as the Debian wrapper would).
dfl_rabbitmq() {
  local tool="$1"; shift
  local env=(env HOME="$dfl_rabbitmq_dir" RABBITMQ_NODENAME="dfl-ci-$dfl_rabbitmq_port@localhost"
             RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$dfl_rabbitmq_port"
             RABBITMQ_DIST_PORT="$dfl_rabbitmq_dist_port"
             RABBITMQ_MNESIA_BASE="$dfl_rabbitmq_dir/mnesia"
             RABBITMQ_LOG_BASE="$dfl_rabbitmq_dir/log"
             RABBITMQ_ENABLED_PLUGINS_FILE="$dfl_rabbitmq_dir/enabled_plugins"
             RABBITMQ_CONFIG_FILE="$dfl_rabbitmq_dir/rabbitmq"
             "/usr/lib/rabbitmq/bin/$tool" "$@")
  if [ "$(id -u)" = "0" ] && id rabbitmq >/dev/null 2>&1; then
    runuser -u rabbitmq -- "${env[@]}"
  else
    "${env[@]}"
  fi
}

if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  dfl_rabbitmq_dir="$(mktemp -d /tmp/dfl-ci-rabbitmq.XXXXXX)"
  if [ "$(id -u)" = "0" ] && id rabbitmq >/dev/null 2>&1; then
    chown rabbitmq "$dfl_rabbitmq_dir"
  fi
  dfl_rabbitmq_port="$(dfl_free_port)"
  dfl_rabbitmq_dist_port="$(dfl_free_port)"
  if dfl_rabbitmq rabbitmq-server -detached >/dev/null 2>&1; then
    # await_startup fails at once while the new node is not yet registered: ask again
    for _ in $(seq 30); do
      if dfl_rabbitmq rabbitmqctl await_startup --timeout 60 >/dev/null 2>&1; then
        export DFL_TEST_RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$dfl_rabbitmq_port/"
        break
      fi
      sleep 1
    done
  fi
  if [ -z "${DFL_TEST_RABBITMQ_URL:-}" ]; then
    echo "RabbitMQ did not start; the rabbitmq tests will skip" >&2
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
