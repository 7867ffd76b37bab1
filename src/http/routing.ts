// Routes on the request's real path whatever its Host header says. Elysia finds the path with
// `url.indexOf("/", 11)`, which assumes "http://" plus a host of 4+ characters: with `Host: x`,
// "/zz/api/v1/auth/me" was served as "/api/v1/auth/me" (and the real one was a 404). Bun also
// leaves the URL relative ("/path") when the Host cannot be parsed ("a/b", "u@h", empty), where
// `new URL(request.url)` throws. Such requests get a rebuilt URL on a fixed host; everything
// else (any host of 4+ characters) passes through untouched, allocating nothing.
const SAFE_ORIGIN = "http://localhost";
/** The smallest path offset at which Elysia's `indexOf("/", 11)` finds the real path start. */
const ELYSIA_PATH_OFFSET = 11;

/** The request itself, or one with the same method, headers and body on a URL Elysia parses right. */
export function routable(request: Request): Request {
  const url = request.url;
  let target: string;
  if (url.charCodeAt(0) === 47 /* "/": a relative URL, the Host was unparseable */) target = url;
  else {
    const start = url.indexOf("/", url.indexOf("://") + 3);
    if (start >= ELYSIA_PATH_OFFSET) return request;
    target = start === -1 ? "/" : url.slice(start);
  }
  return new Request(SAFE_ORIGIN + target, request);
}
