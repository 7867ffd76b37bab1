// /docs and /openapi.json. The Scalar UI script is embedded in the binary and served locally,
// so the docs page renders with no internet access; its Authorize button uses the OAuth2 password flow.
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
// @ts-ignore: a file import; Bun embeds the asset in the compiled binary and gives its path.
// (a relative path: the package's exports map does not expose the browser bundle)
import scalarBundlePath from "../../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };

export const DOCS_SCRIPT_PATH = "/docs/scalar.js";
const SPEC_PATH = "/openapi.json";

export const docsModule = (version: string) =>
  new Elysia()
    .get(
      DOCS_SCRIPT_PATH,
      () =>
        new Response(Bun.file(scalarBundlePath as string), {
          headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" },
        }),
      { detail: { hide: true } },
    )
    .use(
      swagger({
        path: "/docs",
        specPath: SPEC_PATH,
        provider: "scalar",
        scalarCDN: DOCS_SCRIPT_PATH,
        exclude: ["/docs", SPEC_PATH, DOCS_SCRIPT_PATH],
        scalarConfig: {
          // An absolute spec URL, so /docs/ (trailing slash) finds it too.
          spec: { url: SPEC_PATH },
          // Nothing is fetched from outside: no remote fonts, no telemetry, no request proxy (the
          // API is same-origin), and none of Scalar's hosted extras (AI agent, MCP, SDK generator).
          withDefaultFonts: false,
          telemetry: false,
          showDeveloperTools: "never",
          agent: { disabled: true },
          mcp: { disabled: true },
          hideClientButton: true,
          // The Authorize panel opens on the OAuth2 password flow, which the login route accepts.
          authentication: { preferredSecurityScheme: "oauth2" },
        } as Record<string, unknown>,
        documentation: {
          info: {
            title: "Chat server API",
            version,
            description:
              "REST under /api/v1 and a WebSocket at /api/v1/ws (see the README for the socket protocol). Errors are {detail, code}.",
          },
          tags: [
            { name: "auth", description: "Signup, login, me" },
            { name: "users", description: "Profiles and search" },
            { name: "conversations", description: "Direct conversations and groups" },
            { name: "messages", description: "Send, page, read cursors, unread counts" },
            { name: "health", description: "Liveness" },
          ],
          components: {
            securitySchemes: {
              bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
              oauth2: {
                type: "oauth2",
                flows: { password: { tokenUrl: "/api/v1/auth/login", scopes: {} } },
              },
            },
          },
        },
      }),
    );
