// The OpenAPI document and the docs page, built by @elysiajs/swagger from the running app's
// routes. Loaded on the first request to /docs or /openapi.json, not at start: the plugin pulls in
// Scalar's themes and their zod schemas, which would cost every start several milliseconds.
import { swagger } from "@elysiajs/swagger";
import { DOCS_SCRIPT_PATH, SPEC_PATH } from "./paths";

/** Elysia's (protected) accessors the swagger plugin reads the app through. */
export interface RouteSource {
  getGlobalRoutes(): unknown;
  getGlobalDefinitions(): unknown;
}

/** Reads the routes and models of `root` (the module mounted in the app) each time the spec is built. */
export function createDocsApp(version: string, root: RouteSource) {
  const docs = swagger({
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
        { name: "search", description: "Full-text search over the messages of your conversations" },
        { name: "health", description: "Liveness" },
        { name: "realtime", description: "The WebSocket: open /api/v1/ws with an upgrade; frames in the README" },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", description: "A login access token (JWT) or an API token (chat_…, from `chat-server token create`)" },
          oauth2: {
            type: "oauth2",
            flows: { password: { tokenUrl: "/api/v1/auth/login", scopes: {} } },
          },
        },
      },
    },
  });
  const internals = docs as unknown as RouteSource;
  internals.getGlobalRoutes = () => root.getGlobalRoutes();
  internals.getGlobalDefinitions = () => root.getGlobalDefinitions();
  return docs;
}
