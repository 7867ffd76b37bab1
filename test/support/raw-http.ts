// One HTTP/1.1 request written byte for byte over TCP: fetch cannot send an arbitrary Host header.
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `GET|POST path` with the given Host (null: no Host line) and reads the reply until the server closes. */
export function rawRequest(
  port: number,
  options: { method?: string; path: string; host: string | null; headers?: Record<string, string>; body?: string; address?: string },
): Promise<RawResponse> {
  const lines = [`${options.method ?? "GET"} ${options.path} HTTP/1.1`];
  if (options.host !== null) lines.push(`Host: ${options.host}`);
  for (const [k, v] of Object.entries(options.headers ?? {})) lines.push(`${k}: ${v}`);
  if (options.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(options.body)}`);
  lines.push("Connection: close", "", options.body ?? "");
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, options.address ?? "127.0.0.1", () => socket.write(lines.join("\r\n")));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine, ...headerLines] = text.slice(0, split).split("\r\n");
      const headers = Object.fromEntries(
        headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
      );
      resolve({ status: Number(statusLine?.split(" ")[1]), headers, body: text.slice(split + 4) });
    });
  });
}
