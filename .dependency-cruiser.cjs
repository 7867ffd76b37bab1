// Dependency rules for src/ (issue 12), checked in CI by `bun run deps`: features depend on ports,
// never on the composition root, the realtime implementation or storage internals; no cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle makes every module in it depend on all the others.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "composition-root-only-at-the-top",
      severity: "error",
      comment: "app.ts and server.ts wire everything together; nothing below them imports them (only the CLI's serve starts the server).",
      from: { path: "^src/", pathNot: "^src/(index|server|cli/serve)\\.ts$" },
      to: { path: "^src/(app|server)\\.ts$" },
    },
    {
      name: "features-use-ports-not-realtime",
      severity: "error",
      comment: "Feature modules publish through the bus port (src/ports/), never through the socket endpoint or the Bun bus.",
      from: { path: "^src/modules/" },
      to: { path: "^src/realtime/" },
    },
    {
      name: "storage-imports-only-ports-and-itself",
      severity: "error",
      comment: "The storage adapter may be swapped for another database: it knows its own schema and the ports, nothing of features or transport.",
      from: { path: "^src/db/" },
      to: { path: "^src/(modules|realtime|cli|app|server)" },
    },
    {
      name: "features-and-realtime-use-storage-ports",
      severity: "error",
      comment:
        "Feature modules and the socket endpoint reach storage only through the ports (Deps.stores, Deps.caches, Deps.probe, the MessageCommitter), so a second database slots in without touching them. The SQLite adapter (db/) and drizzle-orm are wired in by the composition root (server.ts) only.",
      from: { path: "^src/(modules|realtime)/" },
      to: { path: ["^src/db/", "^src/storage/", "drizzle-orm"] },
    },
    {
      name: "ports-import-only-ports",
      severity: "error",
      comment: "Ports are interfaces and plain types any adapter implements: they know no adapter (storage, transport) nor the wiring.",
      from: { path: "^src/ports/" },
      to: { path: "^src/(db|realtime|cli|app|server)" },
    },
    {
      name: "cli-does-not-start-servers",
      severity: "error",
      comment: "Administrative commands open the data directory through storage, not through the server module.",
      from: { path: "^src/cli/", pathNot: "^src/cli/serve\\.ts$" },
      to: { path: "^src/server\\.ts$" },
    },
  ],
  options: {
    // src/web/ holds browser files served as text (the web client imports the SDK bundle at /client.js),
    // not server modules: listed, never followed. node_modules is not excluded, only not followed, so
    // the rule against drizzle-orm in converted modules can see the import.
    doNotFollow: { path: "node_modules|^src/web/" },
    exclude: { path: "(^|/)dist/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "bun"] },
  },
};
