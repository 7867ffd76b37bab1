#!/usr/bin/env bash
# Fails when src/db/schema.ts changed without `bun run db:generate` (drizzle/ or the embedded copy is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(git status --porcelain -- drizzle src/db/migrations.generated.ts)
bunx drizzle-kit generate --name=ci_probe >/dev/null
bun run scripts/embed-migrations.ts >/dev/null
after=$(git status --porcelain -- drizzle src/db/migrations.generated.ts)
if [ "$before" != "$after" ]; then
  echo "drizzle/ is out of date with src/db/schema.ts: run 'bun run db:generate' and commit the result" >&2
  git status --porcelain -- drizzle src/db/migrations.generated.ts >&2
  git checkout -q -- drizzle src/db/migrations.generated.ts 2>/dev/null || true
  git clean -fdq -- drizzle >/dev/null 2>&1 || true
  exit 1
fi
echo "migrations are in sync"
