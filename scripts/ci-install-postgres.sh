#!/usr/bin/env bash
# Installs PostgreSQL's server binaries from Debian's packages when none are present (about 30 s),
# for test/postgres (test/support/postgres.ts runs initdb and pg_ctl from /usr/lib/postgresql/*/bin
# in a temporary directory, as `nobody` when run as root, on a free loopback port). Installing the
# package also creates and starts Debian's default cluster; it is stopped and disabled here, since
# the tests start their own. Exits 0 without installing when the binaries exist; exits 1 when they
# are missing and cannot be installed (the tests would then be skipped with a message).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi; }

if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  echo "PostgreSQL binaries present: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
  exit 0
fi
echo "== installing postgresql (test/postgres runs a real server)"
# policy-rc.d 101: do not start Debian's own cluster while installing (no systemd in CI containers).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && created_policy=1
fi
status=0
{ as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; } || status=1
[ "$created_policy" = 1 ] && as_root rm -f "$policy"
if [ "$status" != 0 ] || ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  echo "could not install postgresql with apt-get: test/postgres will be skipped" >&2
  exit 1
fi
# In case a cluster was started anyway (a system with a real init): the tests do not use it.
command -v pg_ctlcluster >/dev/null 2>&1 && for c in /etc/postgresql/*/main; do
  [ -d "$c" ] && as_root pg_ctlcluster "$(basename "$(dirname "$c")")" main stop 2>/dev/null || true
done
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
