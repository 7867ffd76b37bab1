#!/usr/bin/env bash
# Fails when a schema changed without its generate step: src/db/schema.ts without `bun run db:generate`
# (drizzle/ or src/db/migrations.generated.ts stale), or src/storage/postgres/schema.ts without
# `bun run db:generate:pg` (drizzle-pg/ or src/storage/postgres/migrations.generated.ts stale).
# Works on copies: drizzle-kit generates into a temporary copy of the migrations folder, and the
# embedded file is regenerated and then put back byte for byte, so the working tree is never changed.
# MIGRATIONS_DIR (SQLite) and PG_MIGRATIONS_DIR point either check at another folder (tests of this script).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check <dialect> <schema> <migrations dir> <embedded file> <embed argument> <generate command>
check() {
  local dialect=$1 schema=$2 dir=$3 embedded=$4 embed_arg=$5 generate=$6
  local work="$tmp/$dialect"
  mkdir -p "$work"
  cp -R "$dir" "$work/migrations"
  cp "$embedded" "$work/migrations.generated.ts"
  # drizzle-kit prefixes --out with "./", so it needs a path relative to here.
  local out
  out=$(realpath --relative-to=. "$work/migrations")
  bunx drizzle-kit generate --dialect "$dialect" --schema "$schema" --out "$out" --name ci_probe >"$work/generate.log" 2>&1 || {
    cat "$work/generate.log" >&2
    echo "drizzle-kit generate failed ($dialect)" >&2
    return 1
  }
  if ! diff -r "$dir" "$work/migrations" >"$work/migrations.diff"; then
    echo "$dir/ is out of date with $schema: run '$generate' and commit the result" >&2
    cat "$work/migrations.diff" >&2
    return 1
  fi
  local status=0
  bun run scripts/embed-migrations.ts $embed_arg >/dev/null
  if ! cmp -s "$embedded" "$work/migrations.generated.ts"; then
    echo "$embedded is out of date with $dir/: run '$generate' and commit the result" >&2
    diff "$work/migrations.generated.ts" "$embedded" >&2 || true
    status=1
  fi
  cp "$work/migrations.generated.ts" "$embedded"
  [ "$status" = 0 ] && echo "$dialect migrations are in sync"
  return "$status"
}

status=0
check sqlite src/db/schema.ts "${MIGRATIONS_DIR:-drizzle}" src/db/migrations.generated.ts "" "bun run db:generate" || status=1
check postgresql src/storage/postgres/schema.ts "${PG_MIGRATIONS_DIR:-drizzle-pg}" src/storage/postgres/migrations.generated.ts pg "bun run db:generate:pg" || status=1
[ "$status" = 0 ] && echo "migrations are in sync"
exit "$status"
