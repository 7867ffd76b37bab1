// GET /metrics: Prometheus text format. Off with --metrics=false; with --metrics-token it needs
// `Authorization: Bearer <token>` (compared in constant time).
import { Elysia } from "elysia";
import type { AppDeps } from "../../app";
import { ApiError } from "../../errors";
import type { Telemetry } from "./telemetry";

const digest = (value: string) => new Bun.CryptoHasher("sha256").update(value).digest();
// Bun's global crypto has timingSafeEqual; importing node:crypto for it would load the whole
// Node crypto layer (and its streams) at every start.
const timingSafeEqual = (a: Uint8Array, b: Uint8Array) =>
  (crypto as unknown as { timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean }).timingSafeEqual(a, b);

export const metricsModule = (deps: Pick<AppDeps, "config">, telemetry: Telemetry) => {
  const app = new Elysia({ name: "metrics" });
  if (!deps.config.metrics) return app;
  const expected = deps.config.metricsToken ? digest(`Bearer ${deps.config.metricsToken}`) : null;
  return app.get(
    "/metrics",
    ({ request }) => {
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
