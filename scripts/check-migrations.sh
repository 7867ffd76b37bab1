#!/usr/bin/env bash
# Fails when src/db/schema.ts changed without `bun run db:generate` (drizzle/ or the embedded copy is stale).
# Works on copies: drizzle-kit generates into a temporary copy of drizzle/, and the embedded file is
# regenerated and then put back byte for byte, so the working tree is never changed.
set -euo pipefail
cd "$(dirname "$0")/.."
MIGRATIONS_DIR=${MIGRATIONS_DIR:-drizzle}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R "$MIGRATIONS_DIR" "$tmp/drizzle"
cp src/db/migrations.generated.ts "$tmp/migrations.generated.ts"

# drizzle-kit prefixes --out with "./", so it needs a path relative to here.
out=$(realpath --relative-to=. "$tmp/drizzle")
bunx drizzle-kit generate --dialect sqlite --schema src/db/schema.ts --out "$out" --name ci_probe >"$tmp/generate.log" 2>&1 || {
  cat "$tmp/generate.log" >&2
  echo "drizzle-kit generate failed" >&2
  exit 1
}
if ! diff -r "$MIGRATIONS_DIR" "$tmp/drizzle" >"$tmp/drizzle.diff"; then
  echo "drizzle/ is out of date with src/db/schema.ts: run 'bun run db:generate' and commit the result" >&2
  cat "$tmp/drizzle.diff" >&2
  exit 1
fi

status=0
bun run scripts/embed-migrations.ts >/dev/null
if ! cmp -s src/db/migrations.generated.ts "$tmp/migrations.generated.ts"; then
  echo "src/db/migrations.generated.ts is out of date with drizzle/: run 'bun run db:generate' and commit the result" >&2
  diff "$tmp/migrations.generated.ts" src/db/migrations.generated.ts >&2 || true
  status=1
fi
cp "$tmp/migrations.generated.ts" src/db/migrations.generated.ts
[ "$status" = 0 ] && echo "migrations are in sync"
exit "$status"
