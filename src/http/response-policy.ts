// What every HTTP response gets on its way out: JSON is marked nosniff with a CSP that forbids
// everything (an API body is never a document to render or frame), and JSON over ~1 KiB is gzipped
// when the client accepts it (a member of many large groups lists conversations weighing
// megabytes). Requests without Accept-Encoding (load tools, most SDKs) skip the compression path
// entirely, so the message-page fast path only gains three header writes.
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";
/** Below this a gzip frame saves too little to pay for the CPU. */
export const COMPRESS_MIN_BYTES = 1024;

/** Whether `accept-encoding` allows gzip (a `gzip` or `*` entry whose q is not 0). */
export function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  for (const part of header.split(",")) {
    const [name, ...params] = part.split(";");
    const coding = name!.trim().toLowerCase();
    if (coding !== "gzip" && coding !== "x-gzip" && coding !== "*") continue;
    const q = params.map((p) => p.trim()).find((p) => /^q\s*=/i.test(p));
    if (!q || Number(q.slice(q.indexOf("=") + 1)) > 0) return true;
  }
  return false;
}

async function compressed(response: Response): Promise<Response> {
  const body = await response.bytes();
  const headers = response.headers;
  if (body.byteLength >= COMPRESS_MIN_BYTES) {
    headers.set("content-encoding", "gzip");
    headers.delete("content-length");
    return new Response(Bun.gzipSync(body), { status: response.status, statusText: response.statusText, headers });
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

function finish(request: Request, response: Response): Response | Promise<Response> {
  const type = response.headers.get("content-type");
  if (type === null || !type.startsWith("application/json")) return response;
  const headers = response.headers;
  headers.set("x-content-type-options", "nosniff");
  headers.set("content-security-policy", JSON_CSP);
  headers.set("vary", "accept-encoding");
  if (response.body === null || headers.has("content-encoding") || !acceptsGzip(request.headers.get("accept-encoding"))) return response;
  return compressed(response);
}

/** Wraps the app's fetch so every response passes through `finish`. */
export function withResponsePolicy(handle: (request: Request) => Response | Promise<Response>) {
  return (request: Request): Response | Promise<Response> => {
    const response = handle(request);
    return response instanceof Promise ? response.then((r) => finish(request, r)) : finish(request, response);
  };
}
