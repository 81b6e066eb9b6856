#!/usr/bin/env bash
# Services the tests need: a local PostgreSQL with trust auth on loopback and a `test` database.
# Idempotent: safe to run at the start of every session and by .ci/run.
set -euo pipefail

as_postgres() { runuser -u postgres -- "$@"; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main >/dev/null
fi

hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q '^# toolaudit-tests' "$hba"; then
  # Tests connect as postgres over TCP on loopback without a password; put these rules first.
  tmp="$(mktemp)"
  {
    echo "# toolaudit-tests: trust on loopback for the test suite"
    echo "host    all             all             127.0.0.1/32            trust"
    echo "host    all             all             ::1/128                 trust"
    cat "$hba"
  } >"$tmp"
  cat "$tmp" >"$hba"
  rm -f "$tmp"
  restart=1
fi

if pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  if [[ "${restart:-0}" == 1 ]]; then
    pg_ctlcluster "$version" main reload
  fi
else
  pg_ctlcluster "$version" main start
fi

for _ in $(seq 1 50); do
  pg_isready -h 127.0.0.1 -p 5432 -q && break
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p 5432

if ! as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1; then
  as_postgres createdb test
fi
echo "PostgreSQL $version is up on 127.0.0.1:5432 with database 'test'"
