// Bundles the client SDK (client/) for browsers into src/web/client.js, an ES module with no imports.
// The file is committed (like the embedded migrations) so `bun run start`, the tests and the compiled
// binary all serve it at /client.js without a build step; the binary embeds it as a text import.
// `--check` builds in memory and fails when the committed file is stale (CI runs it; so does a test).
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
export const BUNDLE_PATH = resolve(ROOT, "src/web/client.js");
const HEADER =
  "// Generated from client/ by `bun run build:client`: do not edit. Served at /client.js; the built-in\n" +
  "// web client imports it. CI (`bun run build:client --check`) fails when it is out of date.\n";

/** The bundle as it would be written now. */
export async function bundleClient(): Promise<string> {
  const result = await Bun.build({ entrypoints: [resolve(ROOT, "client/index.ts")], target: "browser", format: "esm", root: ROOT });
  if (!result.success) throw new AggregateError(result.logs, "bundling client/ failed");
  // Bun marks each bundled file with a comment of its path: the real one of node_modules when that is
  // a link (a shared install), which must not make the committed bundle look stale.
  return HEADER + (await result.outputs[0]!.text()).replace(/^\/\/ \S*?node_modules\//gm, "// node_modules/");
}

if (import.meta.main) {
  const fresh = await bundleClient();
  if (process.argv.includes("--check")) {
    const committed = await Bun.file(BUNDLE_PATH).text().catch(() => "");
    if (committed !== fresh) {
      console.error("src/web/client.js is out of date with client/: run 'bun run build:client' and commit the result");
      process.exit(1);
    }
    console.log("src/web/client.js is in sync with client/");
  } else {
    await Bun.write(BUNDLE_PATH, fresh);
    console.log(`wrote src/web/client.js (${(fresh.length / 1024).toFixed(1)} KB)`);
  }
}
