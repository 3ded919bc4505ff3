#!/usr/bin/env bash
# Start a private PostgreSQL for the tests and print its URL (the only line on stdout).
#
#   VOICEBOT_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"; export VOICEBOT_TEST_POSTGRES_URL
#
# Root-safe: installs the Debian package if needed, then runs initdb and pg_ctl as the
# `postgres` user on a fresh cluster in a temporary folder, listening on 127.0.0.1 only, on a
# free port, with a random password (scram-sha-256). The server keeps running after this
# script ends; stop it with the command printed on stderr. Progress goes to stderr.
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >/dev/null
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
ROOT="$(mktemp -d /tmp/voicebot-postgres.XXXXXX)"
DATA="$ROOT/data"
chown postgres: "$ROOT"
chmod 700 "$ROOT"
printf '%s\n' "$PASSWORD" >"$ROOT/pwfile"
chown postgres: "$ROOT/pwfile"

say "initdb in $DATA"
as_postgres "$BIN/initdb" -D "$DATA" -U postgres --pwfile="$ROOT/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$ROOT/initdb.log" 2>&1 \
    || { cat "$ROOT/initdb.log" >&2; exit 1; }
rm -f "$ROOT/pwfile"

say "starting on 127.0.0.1:$PORT"
as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >&2 || { cat "$ROOT/server.log" >&2; exit 1; }

PGPASSWORD="$PASSWORD" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres voicebot_test
say "ready; stop with: runuser -u postgres -- $BIN/pg_ctl -D $DATA -m fast stop"
# For a caller that stops the server when it is done (.ci/run): pg_ctl, then the data folder.
if [ -n "${VOICEBOT_POSTGRES_STOP_FILE:-}" ]; then
    printf '%s\n%s\n' "$BIN/pg_ctl" "$DATA" >"$VOICEBOT_POSTGRES_STOP_FILE"
fi
echo "postgresql+psycopg://postgres:${PASSWORD}@127.0.0.1:${PORT}/voicebot_test"
