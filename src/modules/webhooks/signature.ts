// The Chat-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the
// hook's secret>`. The timestamp inside the MAC lets a receiver refuse replays of old deliveries.
import { createHmac, timingSafeEqual } from "node:crypto";

export function signature(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/** What a receiver does (the README shows the same steps): true when the header matches the body and is recent. */
export function verifySignature(secret: string, header: string | null, body: string, toleranceSeconds = 300, nowSeconds = Date.now() / 1000): boolean {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex"));
  const given = Buffer.from(parts.v1);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
