// W6's ceiling: the smallest compiled Bun server that answers /health, to time a bare start against.
const port = Number(process.argv[process.argv.indexOf("--port") + 1] || 9000);
Bun.serve({ port, hostname: "127.0.0.1", fetch: () => Response.json({ status: "ok" }) });
process.on("SIGTERM", () => process.exit(0));
