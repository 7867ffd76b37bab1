// What every HTTP response gets on its way out: JSON is marked nosniff with a CSP that forbids
// everything (an API body is never a document to render or frame), and JSON over ~1 KiB is
// compressed, br before gzip, when the client accepts it (a member of many large groups lists
// conversations weighing megabytes). Requests without Accept-Encoding (load tools, most SDKs) skip
// the compression path entirely, so the message-page fast path only gains three header writes.
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";
/** Below this compression saves too little to pay for the CPU. */
export const COMPRESS_MIN_BYTES = 1024;

type Coding = "br" | "gzip";

/** The coding to use: br, else gzip, when `accept-encoding` lists it (or `*`) with a q above 0. */
export function chooseCoding(header: string | null): Coding | null {
  if (!header) return null;
  let gzip = false;
  for (const part of header.split(",")) {
    const [name, ...params] = part.split(";");
    const coding = name!.trim().toLowerCase();
    if (coding !== "br" && coding !== "gzip" && coding !== "x-gzip" && coding !== "*") continue;
    const q = params.map((p) => p.trim()).find((p) => /^q\s*=/i.test(p));
    if (q && !(Number(q.slice(q.indexOf("=") + 1)) > 0)) continue;
    if (coding === "br") return "br";
    gzip = true;
  }
  return gzip ? "gzip" : null;
}

// node:zlib only loads when a client first asks for br: every start would pay for it otherwise.
let brotli: ((body: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>) | null = null;
async function encode(body: Uint8Array<ArrayBuffer>, coding: Coding): Promise<Uint8Array<ArrayBuffer>> {
  if (coding === "gzip") return Bun.gzipSync(body) as Uint8Array<ArrayBuffer>;
  if (!brotli) {
    const zlib = await import("node:zlib");
    // Quality 5: most of br's gain over gzip at a fraction of the default 11's CPU.
    brotli = (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }) as Uint8Array<ArrayBuffer>;
  }
  return brotli(body);
}

async function compressed(response: Response, coding: Coding): Promise<Response> {
  const body = (await response.bytes()) as Uint8Array<ArrayBuffer>;
  const headers = response.headers;
  const init = { status: response.status, statusText: response.statusText, headers };
  if (body.byteLength < COMPRESS_MIN_BYTES) return new Response(body, init);
  headers.set("content-encoding", coding);
  headers.delete("content-length");
  return new Response(await encode(body, coding), init);
}

function finish(request: Request, response: Response): Response | Promise<Response> {
  const type = response.headers.get("content-type");
  if (type === null || !type.startsWith("application/json")) return response;
  // A downloaded attachment that happens to be JSON: a file (ranges, its own CSP), not an API body.
  if (response.headers.has("content-disposition")) return response;
  const headers = response.headers;
  headers.set("x-content-type-options", "nosniff");
  headers.set("content-security-policy", JSON_CSP);
  headers.set("vary", "accept-encoding");
  if (response.body === null || headers.has("content-encoding")) return response;
  const coding = chooseCoding(request.headers.get("accept-encoding"));
  return coding ? compressed(response, coding) : response;
}

/** Wraps the app's fetch so every response passes through `finish`. */
export function withResponsePolicy(handle: (request: Request) => Response | Promise<Response>) {
  return (request: Request): Response | Promise<Response> => {
    const response = handle(request);
    return response instanceof Promise ? response.then((r) => finish(request, r)) : finish(request, response);
  };
}
