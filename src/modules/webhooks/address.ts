// SSRF guard for webhook targets: which addresses a hook may reach, checked on the URL at `add`
// and again on the resolved addresses before every delivery (a name can be re-pointed at an inner
// address after it was added: DNS rebinding), and the delivery connects to the very address that was
// checked (pinnedRequest), never resolving the name again. Only http and https URLs; WHATWG URL parsing already
// turns decimal, octal and hex IPv4 forms (http://2130706433/, http://0x7f.1/) into dotted quads.
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { checkServerIdentity, type PeerCertificate } from "node:tls";

/** Why an address is refused, or null when it is a public unicast address. */
export function refusedRange(address: string): string | null {
  const ip = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIP(ip) === 4) return refusedV4(ip.split(".").map(Number));
  if (isIP(ip) === 6) {
    const b = parseV6(ip);
    return b ? refusedV6(b) : "an unparseable IPv6 address";
  }
  return "not an IP address";
}

function refusedV4([a, b]: number[]): string | null {
  if (a === 0) return "an unspecified (0.0.0.0/8) address";
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168)) return "a private address";
  if (a === 127) return "a loopback address";
  if (a === 169 && b === 254) return "a link-local address";
  if (a === 100 && b! >= 64 && b! <= 127) return "a carrier-grade NAT (100.64.0.0/10) address";
  if (a === 192 && b === 0) return "a special-purpose (192.0.0.0/24) address";
  if (a === 198 && (b === 18 || b === 19)) return "a benchmarking (198.18.0.0/15) address";
  if (a! >= 224 && a! <= 239) return "a multicast address";
  if (a! >= 240) return "a reserved or broadcast address";
  return null;
}

function refusedV6(b: number[]): string | null {
  const zeroTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  const v4 = (at: number) => refusedV4(b.slice(at, at + 4));
  if (zeroTo(15) && b[15] === 0) return "an unspecified (::) address";
  if (zeroTo(15) && b[15] === 1) return "a loopback address";
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (SIIT translated), ::a.b.c.d (compatible) and
  // 64:ff9b::a.b.c.d (well-known NAT64) reach an IPv4 host: the embedded address decides.
  if (zeroTo(10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zeroTo(8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return v4(12);
  if (zeroTo(12)) return v4(12);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) return v4(12);
  // The local-use NAT64 prefix (RFC 8215) leads to an IPv4 host too, but where the IPv4 address sits
  // depends on the prefix length the network chose (/48 to /96, RFC 6052), so no one reading decides.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b[4] === 0x00 && b[5] === 0x01) {
    return "a local-use NAT64 (64:ff9b:1::/48) address";
  }
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 6to4
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return "a link-local address";
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return "a site-local address";
  if ((b[0]! & 0xfe) === 0xfc) return "a private (unique local) address";
  if (b[0] === 0xff) return "a multicast address";
  return null;
}

/** The 16 bytes of an IPv6 address (with an optional dotted IPv4 tail), or null. */
function parseV6(ip: string): number[] | null {
  let text = ip.toLowerCase();
  const tail: number[] = [];
  const dotted = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    if (isIP(dotted[2]!) !== 4) return null;
    tail.push(...dotted[2]!.split(".").map(Number));
    const prefix = dotted[1]!;
    text = prefix.endsWith("::") ? prefix : prefix.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s ? s.split(":") : []);
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const want = 8 - tail.length / 2;
  const fill = halves.length === 2 ? want - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== want)) return null;
  const all = [...head, ...Array(fill).fill("0"), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 0xff);
  }
  bytes.push(...tail);
  return bytes.length === 16 ? bytes : null;
}

export class TargetRefused extends Error {}

/** The parsed URL if it is http(s) with a host, else TargetRefused naming what is wrong. */
export function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused(`"${raw}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TargetRefused(`only http and https URLs are allowed, got ${url.protocol}`);
  if (!url.hostname) throw new TargetRefused("the URL has no host");
  if (url.username || url.password) throw new TargetRefused("credentials in the URL are not allowed (put a token in the path or query)");
  return url;
}

export type Lookup = (host: string) => Promise<string[]>;

/** The system resolver: every address of the name, in the resolver's order. */
export const systemLookup: Lookup = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Resolves the URL's host once and refuses it when any address it resolves to is not public unicast
 * (every address, since a client may pick any of them); returns the address to connect to. With
 * private targets allowed nothing is refused, but the name is still resolved here, once.
 */
export async function resolveTarget(url: URL, allowPrivate: boolean, resolve: Lookup = systemLookup): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      throw new TargetRefused(`cannot resolve ${host}: ${(error as { code?: string }).code ?? String(error)}`);
    }
    if (addresses.length === 0) throw new TargetRefused(`cannot resolve ${host}: no address`);
  }
  if (!allowPrivate) {
    for (const address of addresses) {
      const why = refusedRange(address);
      if (why) throw new TargetRefused(`${host} resolves to ${address}, ${why} (allowed only with --webhook-allow-private true)`);
    }
  }
  return addresses[0]!;
}

/** `webhook add`'s check: the same resolution and ranges, skipped when private targets are allowed. */
export async function checkTarget(url: URL, allowPrivate: boolean, resolve: Lookup = systemLookup): Promise<void> {
  if (allowPrivate) return;
  await resolveTarget(url, false, resolve);
}

/**
 * The request that reaches exactly `address` (the one checked): the URL with the address in place of
 * the name, the name in Host, and for https the name as TLS server name and certificate identity.
 * The HTTP client then never resolves the name itself, so DNS rebinding between check and connect
 * has nothing to act on.
 */
export function pinnedRequest(url: URL, address: string): { href: string; host: string; tls?: { serverName: string; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } } {
  const name = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(name)) return { href: url.href, host: url.host };
  const pinned = new URL(url.href);
  pinned.hostname = isIP(address) === 6 ? `[${address}]` : address;
  if (url.protocol !== "https:") return { href: pinned.href, host: url.host };
  return { href: pinned.href, host: url.host, tls: { serverName: name, checkServerIdentity: (_ip, cert) => checkServerIdentity(name, cert) } };
}
