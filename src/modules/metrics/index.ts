// GET /metrics: Prometheus text format. Off with --metrics=false; with --metrics-token it needs
// `Authorization: Bearer <token>` (compared in constant time). Without a token on a server bound to
// a non-loopback address, only loopback peers may read it: metrics name routes, users' activity
// and sizes, and a default install must not publish them to whoever can reach the port.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import type { Telemetry } from "./telemetry";

const digest = (value: string) => new Bun.CryptoHasher("sha256").update(value).digest();
// Bun's global crypto has timingSafeEqual; importing node:crypto for it would load the whole
// Node crypto layer (and its streams) at every start.
const timingSafeEqual = (a: Uint8Array, b: Uint8Array) =>
  (crypto as unknown as { timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean }).timingSafeEqual(a, b);

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export const isLoopbackAddress = (address: string) =>
  /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address) || address === "::1" || address === "0:0:0:0:0:0:0:1";
/** Whether a bind address (`--host`) only listens on loopback. */
export const isLoopbackHost = (host: string) => host.toLowerCase() === "localhost" || isLoopbackAddress(host.replace(/^\[|\]$/g, ""));

export const metricsModule = (deps: Pick<Deps, "config" | "clientAddress" | "peerAddress">, telemetry: Telemetry) => {
  const app = new Elysia({ name: "metrics" });
  if (!deps.config.metrics) return app;
  const expected = deps.config.metricsToken ? digest(`Bearer ${deps.config.metricsToken}`) : null;
  const loopbackOnly = !expected && !isLoopbackHost(deps.config.host);
  const peer = deps.peerAddress ?? deps.clientAddress;
  return app.get(
    "/metrics",
    ({ request }) => {
      if (loopbackOnly && !isLoopbackAddress(peer(request))) {
        throw new ApiError(403, "forbidden", "Metrics are served to loopback clients only; set --metrics-token to scrape from elsewhere");
      }
      if (expected) {
        const given = request.headers.get("authorization");
        if (!given || !timingSafeEqual(digest(given), expected)) {
          throw new ApiError(401, "not_authenticated", "Metrics need the configured bearer token", { "WWW-Authenticate": 'Bearer realm="metrics"' });
        }
      }
      return new Response(telemetry.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" },
      });
    },
    { detail: { hide: true } },
  );
};
