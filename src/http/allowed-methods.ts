// Which methods a path has routes for, so a request with another method answers 405 with `Allow`
// (as the FastAPI service this replaces did) rather than a 404 that says the path does not exist.
// Built from the app's own route table on the first miss: nothing to keep in step by hand.

export interface RouteEntry {
  method: string;
  path: string;
}

/** `/api/v1/messages/:message_id/read` → a RegExp matching one path segment per parameter. */
function patternOf(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment === "*" ? ".*" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}/?$`);
}

/** Returns the methods routed for a path (empty when none: a real 404). */
export function allowedMethods(routes: () => readonly RouteEntry[]): (pathname: string) => string[] {
  let table: { pattern: RegExp; methods: Set<string> }[] | null = null;
  const build = () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of routes()) {
      const method = route.method.toUpperCase();
      // Elysia's catch-alls and the socket route are not methods a client can be told to use.
      if (method === "ALL" || method === "WS") continue;
      const methods = byPath.get(route.path) ?? new Set<string>();
      methods.add(method);
      if (method === "GET") methods.add("HEAD");
      byPath.set(route.path, methods);
    }
    return [...byPath].map(([path, methods]) => ({ pattern: patternOf(path), methods }));
  };
  return (pathname) => {
    table ??= build();
    const allowed = new Set<string>();
    for (const entry of table) if (entry.pattern.test(pathname)) for (const m of entry.methods) allowed.add(m);
    return [...allowed].sort();
  };
}
