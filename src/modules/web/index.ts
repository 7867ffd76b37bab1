// The built-in web client at / (HTML, CSS and JS from src/web/). Text imports put the files inside
// the compiled binary; each is gzipped and hashed once (on first request), served with an ETag and a strict CSP.
import { Elysia } from "elysia";
// @ts-ignore: text imports (Bun embeds the files in the binary); the .js is not a module to type-check.
import appJs from "../../web/app.js" with { type: "text" };
// @ts-ignore: as above (attachments, issue 14).
import attachmentsJs from "../../web/attachments.js" with { type: "text" };
import indexHtml from "../../web/index.html" with { type: "text" };
// @ts-ignore: as app.js (its hooks: edits, reactions, replies, receipts).
import messageLifeJs from "../../web/message-life.js" with { type: "text" };
// @ts-ignore: as app.js (the members panel, imported by app.js).
import membersJs from "../../web/members.js" with { type: "text" };
// @ts-ignore: as app.js.
import searchJs from "../../web/search.js" with { type: "text" };
import styleCss from "../../web/style.css" with { type: "text" };

/** Same-origin everything; 'self' covers the same-host ws:/wss: socket in current browsers. */
export const WEB_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  etag: string;
  headers: Record<string, string>;
}

function asset(text: string, contentType: string, extra: Record<string, string> = {}): Asset {
  const body = new TextEncoder().encode(text);
  const etag = `"${new Bun.CryptoHasher("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  // Not fingerprinted, so browsers revalidate each load; the ETag makes that a cheap 304.
  const headers = { "content-type": contentType, "cache-control": "no-cache", etag, "x-content-type-options": "nosniff", vary: "accept-encoding", ...extra };
  return { body, gzip: Bun.gzipSync(body) as Uint8Array<ArrayBuffer>, etag, headers };
}

function serve(a: Asset, request: Request): Response {
  if (request.headers.get("if-none-match") === a.etag) return new Response(null, { status: 304, headers: { etag: a.etag, "cache-control": "no-cache" } });
  if (/\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    return new Response(a.gzip, { headers: { ...a.headers, "content-encoding": "gzip" } });
  }
  return new Response(a.body, { headers: a.headers });
}

/** Hashed and gzipped on first request rather than at start, which every start would pay. */
function lazily(make: () => Asset): () => Asset {
  let made: Asset | null = null;
  return () => (made ??= make());
}

export const webModule = () => {
  // bun-types calls every .html import an HTMLBundle; with { type: "text" } it is the file's text.
  const page = lazily(() =>
    asset(indexHtml as unknown as string, "text/html; charset=utf-8", {
      "content-security-policy": WEB_CSP,
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    }),
  );
  const script = lazily(() => asset(appJs as string, "text/javascript; charset=utf-8"));
  const life = lazily(() => asset(messageLifeJs as string, "text/javascript; charset=utf-8"));
  const membersScript = lazily(() => asset(membersJs as string, "text/javascript; charset=utf-8"));
  const searchScript = lazily(() => asset(searchJs as string, "text/javascript; charset=utf-8"));
  const style = lazily(() => asset(styleCss as string, "text/css; charset=utf-8"));
  const attachmentsScript = lazily(() => asset(attachmentsJs as string, "text/javascript; charset=utf-8"));
  const hidden = { detail: { hide: true } };
  return new Elysia({ name: "web" })
    .get("/", ({ request }) => serve(page(), request), hidden)
    .get("/web/app.js", ({ request }) => serve(script(), request), hidden)
    .get("/web/style.css", ({ request }) => serve(style(), request), hidden)
    .get("/web/members.js", ({ request }) => serve(membersScript(), request), hidden)
    .get("/web/message-life.js", ({ request }) => serve(life(), request), hidden)
    .get("/web/search.js", ({ request }) => serve(searchScript(), request), hidden)
    .get("/web/attachments.js", ({ request }) => serve(attachmentsScript(), request), hidden);
};
