// A real webhook receiver for tests: a local Bun.serve whose answer per request is programmable,
// recording every delivery (parsed body, raw body, signature header) in arrival order.
import type { Server } from "bun";

export interface Delivery {
  id: string;
  type: string;
  created_at: string;
  data: any;
  raw: string;
  signature: string | null;
  path: string;
  /** The Host header the request carried. */
  host: string | null;
}

export type Answer = (delivery: Delivery, attempt: number) => Response | Promise<Response>;

export interface Receiver {
  url: string;
  port: number;
  deliveries: Delivery[];
  /** Answers of the next requests (default 200); `attempt` counts earlier requests with the same event id. */
  answer: Answer;
  /** Waits until `done()` holds, polling; fails with what was received after `ms`. */
  until(done: (deliveries: Delivery[]) => boolean, ms?: number): Promise<void>;
  /** Every body received, concatenated (for "never contains" checks). */
  raw(): string;
  close(): void;
}

export function startReceiver(answer: Answer = () => new Response("ok")): Receiver {
  const deliveries: Delivery[] = [];
  const attempts = new Map<string, number>();
  const receiver: Receiver = {
    url: "",
    port: 0,
    deliveries,
    answer,
    async until(done, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!done(deliveries)) {
        if (Date.now() > deadline) throw new Error(`receiver: condition not met; got ${deliveries.map((d) => `${d.id}:${d.type}`).join(" ")}`);
        await Bun.sleep(25);
      }
    },
    raw: () => deliveries.map((d) => d.raw).join("\n"),
    close: () => void server.stop(true),
  };
  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(request) {
      const raw = await request.text();
      const path = new URL(request.url).pathname;
      let parsed: any = {};
      try {
        parsed = JSON.parse(raw);
      } catch {}
      const delivery: Delivery = { ...parsed, raw, signature: request.headers.get("chat-signature"), path, host: request.headers.get("host") };
      deliveries.push(delivery);
      const attempt = attempts.get(delivery.id) ?? 0;
      attempts.set(delivery.id, attempt + 1);
      return receiver.answer(delivery, attempt);
    },
  });
  receiver.port = server.port!;
  receiver.url = `http://127.0.0.1:${server.port}`;
  return receiver;
}

/** Deliveries with one entry per event id (the first), for at-least-once comparisons. */
export const unique = (deliveries: Delivery[]) => {
  const seen = new Set<string>();
  return deliveries.filter((d) => !seen.has(d.id) && seen.add(d.id));
};
