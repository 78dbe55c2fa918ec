#!/usr/bin/env bash
# A throwaway PostgreSQL on 127.0.0.1 for the tests and for trying
# `suandian serve --database postgres://…` by hand. Needs Debian's `postgresql` package (the
# server binaries under /usr/lib/postgresql/*/bin); no systemd.
#
#   scripts/postgres-dev.sh start [DIR] [PORT]   initialise DIR (once) and start the server;
#                                                prints the export line for the tests
#   scripts/postgres-dev.sh stop  [DIR]
#
# eval "$(scripts/postgres-dev.sh start)" && cargo test -p suandian --release --test serve
#
# The cluster's one role, `suandian`, has the password `suandian-dev`: for this loopback
# development server only. Connections from 127.0.0.1 need it (scram-sha-256).
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/suandian-postgres}
port=${3:-54329}
password=suandian-dev

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "postgres-dev: PostgreSQL's server binaries were not found under /usr/lib/postgresql;" \
        "install them: apt-get install postgresql" >&2
    exit 1
fi
# The server refuses to run as root: run it as the `postgres` user then.
as_server() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir"
        pwfile=$(mktemp)
        echo "$password" >"$pwfile"
        chmod 644 "$pwfile"
        as_server "$bin/initdb" -D "$dir" -U suandian --pwfile="$pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 >"$dir.initdb.log" 2>&1 ||
            { cat "$dir.initdb.log" >&2; rm -f "$pwfile"; exit 1; }
        rm -f "$pwfile"
    fi
    if ! as_server "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_server "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null ||
            { cat "$dir/server.log" >&2; exit 1; }
    fi
    echo "export SUANDIAN_TEST_POSTGRES=postgres://suandian:$password@127.0.0.1:$port/postgres"
    ;;
stop)
    as_server "$bin/pg_ctl" -D "$dir" -m fast stop
    ;;
*)
    echo "usage: $0 start|stop [DIR] [PORT]" >&2
    exit 2
    ;;
esac
