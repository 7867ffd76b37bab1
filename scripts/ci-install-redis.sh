#!/usr/bin/env bash
# Installs redis-server from Debian's packages when it is missing (test/redis starts its own on a
# free loopback port as the current user; the packaged service is not needed and is stopped).
# .ci/run calls this before the tests; without it the broker tests skip with a message.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi; }

if [ -x /usr/bin/redis-server ]; then
  /usr/bin/redis-server --version
  exit 0
fi
echo "== installing redis-server (test/redis runs a real one)"
if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; then
  echo "could not install redis-server with apt-get: test/redis will be skipped" >&2
  exit 0
fi
# The package starts a system service on 6379 where systemd runs; the tests do not use it.
as_root systemctl disable --now redis-server >/dev/null 2>&1 || as_root service redis-server stop >/dev/null 2>&1 || true
/usr/bin/redis-server --version
