// `healthcheck`: GETs /health of a running server and exits 0 or 1, for container HEALTHCHECKs
// on images without curl (the distroless image in the Dockerfile has no shell at all).
import { ConfigError } from "../config";
import { defineCommand } from "./command";

export const healthcheckCommand = defineCommand(
  {
    name: "healthcheck",
    summary: "Exit 0 if the server on --port answers /health, 1 otherwise (for container health checks).",
    options: {
      url: { flag: "--url", env: "CHAT_HEALTHCHECK_URL", value: "<url>", help: "URL to probe instead of http://127.0.0.1:<port>/health" },
      timeout: { flag: "--timeout-ms", value: "<ms>", help: "Give up after this long (default 3000)" },
    },
    settings: ["port"],
  },
  async ({ options, config }) => {
    const timeout = Number(options.timeout ?? 3000);
    if (!Number.isInteger(timeout) || timeout < 1) throw new ConfigError(`--timeout-ms must be a positive integer, got "${options.timeout}"`);
    const url = options.url ?? `http://127.0.0.1:${config.port}/health`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
      if (res.status === 200) return void console.log("healthy");
      console.error(`unhealthy: ${url} answered ${res.status}`);
    } catch (error) {
      console.error(`unhealthy: ${url}: ${error instanceof Error ? error.message : error}`);
    }
    process.exit(1);
  },
);
