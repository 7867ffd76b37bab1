// /docs and /openapi.json. The Scalar UI script is embedded in the binary and served locally,
// so the docs page renders with no internet access; its Authorize button uses the OAuth2 password flow.
import { Elysia } from "elysia";
// @ts-ignore: a file import; Bun embeds the asset in the compiled binary and gives its path.
// (a relative path: the package's exports map does not expose the browser bundle)
import scalarBundlePath from "../../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };
import type { RouteSource } from "./openapi";
import { DOCS_PATH, DOCS_SCRIPT_PATH, SPEC_PATH } from "./paths";

export { DOCS_SCRIPT_PATH };

/**
 * The docs page runs only its own embedded Scalar script; Scalar injects styles at run time (hence
 * 'unsafe-inline' for styles only) and "Test Request" calls the API on this same origin. The hash is
 * the whitespace body of the page's `<script id="api-reference">` config element (it runs nothing;
 * allowed so the browser logs no violation for it).
 */
const CONFIG_SCRIPT_HASH = "'sha256-TcUB1mzXiQO4GxpTRZ0EMpOXKMU3u+n/q1WrgVIcs1I='";
export const DOCS_CSP =
  `default-src 'none'; script-src 'self' ${CONFIG_SCRIPT_HASH}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; ` +
  "connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** A copy of the docs app's response with the page's security headers (the JSON spec gets its own on the way out). */
function withDocsHeaders(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("x-content-type-options", "nosniff");
  if (headers.get("content-type")?.startsWith("text/html")) {
    headers.set("content-security-policy", DOCS_CSP);
    headers.set("referrer-policy", "no-referrer");
  }
  return new Response(response.body, { status: response.status, headers });
}

export const docsModule = (version: string) => {
  const module = new Elysia({ name: "docs" });
  // Built on first use (see openapi.ts); `module` reads the whole app's routes once mounted.
  let docsApp: Promise<{ handle(request: Request): Promise<Response> }> | null = null;
  const forward = (path: string) => async ({ request }: { request: Request }) => {
    docsApp ??= import("./openapi").then(({ createDocsApp }) => createDocsApp(version, module as unknown as RouteSource));
    // Re-addressed to the docs app's own path, so /docs/ and /docs?x reach it too.
    return withDocsHeaders(await (await docsApp).handle(new Request(new URL(path, request.url), { headers: request.headers })));
  };
  return module
    .get(
      DOCS_SCRIPT_PATH,
      () =>
        new Response(Bun.file(scalarBundlePath as string), {
          headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff" },
        }),
      { detail: { hide: true } },
    )
    .get(DOCS_PATH, forward(DOCS_PATH), { detail: { hide: true } })
    .get(SPEC_PATH, forward(SPEC_PATH), { detail: { hide: true } });
};
