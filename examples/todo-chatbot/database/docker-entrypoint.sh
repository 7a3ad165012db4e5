#!/bin/sh
# PostgreSQL 15 entrypoint for a Debian postgresql-15 root filesystem, giving the
# environment contract of the official postgres image:
#   POSTGRES_PASSWORD  required on first start (the superuser's password)
#   POSTGRES_USER      superuser name (default: postgres)
#   POSTGRES_DB        database created on first start (default: $POSTGRES_USER)
#   PGDATA             data directory (default: /var/lib/postgresql/data)
#   POSTGRES_INITDB_ARGS  extra initdb arguments (optional)
# An empty PGDATA is initialised (scram-sha-256 for every host connection, trust
# only on the local socket); then postgres replaces this shell (exec) so that
# signals reach it. Runs as a non-root user: the uid must own PGDATA.
# Usage: docker-entrypoint.sh [postgres] [-c name=value ...]
set -eu

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PATH="$PG_BIN:$PATH"
export PATH
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

die() {
    echo "docker-entrypoint.sh: $*" >&2
    exit 1
}

# Official-image convenience: `docker-entrypoint.sh -c x=y` means postgres -c x=y.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
# Anything else (a shell, pg_dump...) runs as given.
if [ "$1" != postgres ]; then
    exec "$@"
fi
shift

[ "$(id -u)" -ne 0 ] || die "refusing to run as root; run as the postgres user (uid $(id -u postgres 2>/dev/null || echo '?')) or any non-root uid that owns PGDATA"
id -un >/dev/null 2>&1 || die "uid $(id -u) has no entry in /etc/passwd, which initdb needs; run as the postgres user (uid $(id -u postgres 2>/dev/null || echo '?'))"

# The socket goes where the image expects it when that is writable, else to /tmp
# (a read-only root filesystem with an emptyDir on /tmp).
SOCKET_DIR=/var/run/postgresql
if ! [ -d "$SOCKET_DIR" ] || ! [ -w "$SOCKET_DIR" ]; then
    SOCKET_DIR=${TMPDIR:-/tmp}
fi

mkdir -p "$PGDATA" || die "cannot create PGDATA $PGDATA"
[ -O "$PGDATA" ] || die "PGDATA $PGDATA is owned by uid $(stat -c %u "$PGDATA"), not by the current uid $(id -u); chown it or set PGDATA to a subdirectory you own (e.g. $PGDATA/pgdata)"
chmod 700 "$PGDATA" || die "cannot chmod 700 PGDATA $PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -n "$(ls -A "$PGDATA")" ]; then
        die "PGDATA $PGDATA is not empty but holds no database (a volume's lost+found?); set PGDATA to a subdirectory, e.g. $PGDATA/pgdata"
    fi
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        die "POSTGRES_PASSWORD is required to initialise an empty PGDATA ($PGDATA)"
    fi
    echo "docker-entrypoint.sh: initialising $PGDATA for superuser $POSTGRES_USER"
    pwfile=$(mktemp "${TMPDIR:-/tmp}/pgpass.XXXXXX")
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words by contract
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 \
        ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    trap - EXIT
    {
        echo
        echo "# added by docker-entrypoint.sh"
        echo "listen_addresses = '*'"
        echo "password_encryption = 'scram-sha-256'"
    } >> "$PGDATA/postgresql.conf"
    # initdb's own host lines cover loopback only; other pods connect from anywhere.
    {
        echo "host all all 0.0.0.0/0 scram-sha-256"
        echo "host all all ::/0 scram-sha-256"
    } >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # Single-user mode: no server, no socket, no network during initialisation.
        escaped=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
        printf 'CREATE DATABASE "%s";\n' "$escaped" |
            postgres --single -D "$PGDATA" -c unix_socket_directories="$SOCKET_DIR" postgres >/dev/null
    fi
    echo "docker-entrypoint.sh: initialised; database $POSTGRES_DB ready"
else
    echo "docker-entrypoint.sh: $PGDATA holds a database; skipping initialisation"
fi

exec postgres -D "$PGDATA" -c unix_socket_directories="$SOCKET_DIR" "$@"
