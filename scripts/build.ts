// Builds the single executable dist/chat-server with the version stamped in and migrations,
// docs UI and every asset embedded. No --minify: it breaks Elysia's generated handlers.
import { $ } from "bun";
import pkg from "../package.json" with { type: "json" };

const commit = (await $`git rev-parse --short HEAD`.nothrow().quiet().text()).trim();
const version = `${pkg.version}${commit ? "+" + commit : ""}`;
const outfile = process.argv[2] ?? "dist/chat-server";

await $`bun run scripts/embed-migrations.ts`.quiet();
await $`bun run scripts/embed-migrations.ts pg`.quiet();
// Workers are extra entrypoints: Bun embeds them and resolves `new Worker(new URL(...))` to them.
const workers = ["src/db/writer-worker.ts"];
// The SDK bundle the web client imports (committed, but a build must never embed a stale one).
await $`bun run scripts/build-client.ts`.quiet();
await $`bun build src/index.ts ${workers} --compile --bytecode --minify-whitespace --sourcemap=none --define BUILD_VERSION=${JSON.stringify(version)} --outfile ${outfile}`;
const size = Bun.file(outfile).size;
console.log(`built ${outfile} (${version}, ${(size / 1024 / 1024).toFixed(1)} MiB)`);
